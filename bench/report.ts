/**
 * The results of one run and their table: one row per figure, one column
 * per target, then Switchboard's figure divided by each baseline's.
 */
import type { LoginFigures } from './targets.ts';
import { settleSeconds, type MemoryFigures, type StepFigures, type StormFigures } from './load/scenarios.ts';

export interface TargetFigures {
  logins?: LoginFigures;
  storm?: StormFigures;
  memory?: MemoryFigures;
  /** Subscriber count -> steps of increasing offered load. */
  fanOut?: Record<number, StepFigures[]>;
  /** The first step at the first subscriber count: its median over the rounds, and every round (the first is fanOut's). */
  fanOutMedian?: StepFigures[];
  fanOutRounds?: StepFigures[][];
  /** Per step, the median of the rounds (lost and duplicated: their sum). */
  crossInstance?: StepFigures[];
  crossInstanceRounds?: StepFigures[][];
}

export interface Results {
  machine: string;
  date: string;
  seconds?: number;
  plan: { memoryCounts: number[]; fanOutSubscribers: number[]; rates: number[]; crossRates: number[]; crossRounds?: number; fanOutRounds?: number } & Record<string, unknown>;
  targets: Record<string, TargetFigures>;
}

interface Row {
  label: string;
  value: (figures: TargetFigures) => number | undefined;
  digits?: number;
  /** Whether a ratio to each baseline means anything (not for counts of losses). @default true */
  ratio?: boolean;
}

const ours = 'switchboard';

function rows(results: Results): Row[] {
  const { plan } = results;
  const list: Row[] = [
    { label: 'logins/s (bcrypt cost 10)', value: (f) => f.logins?.loginsPerSecond },
    { label: 'event-loop lag p99 during logins, ms', value: (f) => f.logins?.lagP99Ms, digits: 1 },
    { label: 'authenticated connects/s', value: (f) => f.storm?.connectsPerSecond },
    { label: 'event-loop lag p99 during connects, ms', value: (f) => f.storm?.lagP99Ms, digits: 1 },
  ];
  list.push({ label: 'RSS of the empty server before the sockets, MB', value: (f) => f.memory?.emptyRssMb.before, digits: 1 });
  list.push({ label: 'RSS of the empty server after they closed, MB', value: (f) => f.memory?.emptyRssMb.after, digits: 1 });
  for (const count of plan.memoryCounts) list.push({ label: `RSS per idle socket at ${count} (over the lower of the two), KB`, value: (f) => f.memory?.kbPerSocket[count], digits: 1 });
  list.push({ label: `RSS per idle socket added from ${plan.memoryCounts[0]} to ${plan.memoryCounts.at(-1)}, KB`, value: (f) => f.memory?.kbPerAddedSocket, digits: 1 });
  list.push({ label: `JavaScript heap per idle socket at ${plan.memoryCounts.at(-1)}, KB`, value: (f) => f.memory?.heapKbPerSocket?.[plan.memoryCounts.at(-1)!], digits: 1 });
  const stepRows = (name: string, steps: (f: TargetFigures) => StepFigures[] | undefined, rate: number, subscribers: number) => {
    const at = (f: TargetFigures) => steps(f)?.find((s) => s.offeredPerSecond === rate * subscribers);
    list.push(
      { label: `${name} ${rate} msg/s: server CPU µs per delivery`, value: (f) => at(f)?.cpuMicrosPerDelivery, digits: 2 },
      { label: `${name} ${rate} msg/s: of which user (not kernel) µs`, value: (f) => at(f)?.userMicrosPerDelivery, digits: 2 },
      { label: `${name} ${rate} msg/s: latency p50 ms`, value: (f) => at(f)?.p50Ms, digits: 1 },
      { label: `${name} ${rate} msg/s: latency p95 ms`, value: (f) => at(f)?.p95Ms, digits: 1 },
      { label: `${name} ${rate} msg/s: latency p99 ms`, value: (f) => at(f)?.p99Ms, digits: 1 },
      { label: `${name} ${rate} msg/s: latency max ms`, value: (f) => at(f)?.maxMs, digits: 1 },
      { label: `${name} ${rate} msg/s: latency max ms in the ${settleSeconds} s before (settling, not measured)`, value: (f) => at(f)?.settlingMaxMs, digits: 1 },
      { label: `${name} ${rate} msg/s: lost + duplicated`, value: (f) => (at(f) ? at(f)!.lost + at(f)!.duplicated : undefined), ratio: false },
    );
  };
  for (const [index, subscribers] of plan.fanOutSubscribers.entries()) {
    const steps = (f: TargetFigures) => f.fanOut?.[subscribers];
    // The first count's first step: the median of its rounds where there were several (a target that did not keep up: its one round).
    const rounds = plan.fanOutRounds ?? 1;
    if (index === 0 && rounds > 1) stepRows(`fan-out ${subscribers} subs, median of ${rounds} rounds,`, (f) => f.fanOutMedian ?? steps(f), plan.rates[0]!, subscribers);
    else stepRows(`fan-out ${subscribers} subs,`, steps, plan.rates[0]!, subscribers);
    list.push(
      { label: `fan-out ${subscribers} subs: max deliveries/s`, value: (f) => Math.max(...(steps(f) ?? []).map((s) => s.deliveriesPerSecond)) },
      { label: `fan-out ${subscribers} subs: lost + duplicated, all steps`, value: (f) => steps(f)?.reduce((sum, s) => sum + s.lost + s.duplicated, 0), ratio: false },
    );
  }
  stepRows(`2 instances ${plan.fanOutSubscribers[0]} subs, median of ${plan.crossRounds ?? 1} rounds,`, (f) => f.crossInstance, plan.crossRates[0]!, plan.fanOutSubscribers[0]!);
  return list;
}

const show = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function renderTable(results: Results): string {
  const names = Object.keys(results.targets);
  const baselines = names.filter((n) => n !== ours);
  const header = ['figure', ...names, ...baselines.map((b) => `${ours} ÷ ${b}`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const row of rows(results)) {
    const values = names.map((n) => row.value(results.targets[n]!));
    const mine = row.value(results.targets[ours] ?? {});
    const ratios = baselines.map((b) => {
      const theirs = row.value(results.targets[b]!);
      return row.ratio !== false && mine !== undefined && theirs ? show(mine / theirs, 2) : '–';
    });
    lines.push(`| ${[row.label, ...values.map((v) => show(v, row.digits)), ...ratios].join(' | ')} |`);
  }
  lines.push('', `${results.machine}; ${results.date}; run took ${results.seconds ?? '?'} s.`);
  return lines.join('\n');
}
