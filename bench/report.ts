/**
 * The results of one run and their table: one row per figure, one column
 * per target, then Switchboard's figure divided by each baseline's.
 */
import type { LoginFigures } from './targets.ts';
import { saturated, settleSeconds, type MemoryFigures, type StepFigures, type StormFigures } from './load/scenarios.ts';

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
  /** One room of a handful of members: medians of alternating rounds, and every round. */
  smallRoom?: StepFigures[];
  smallRoomRounds?: StepFigures[][];
  /** Many rooms of a handful (chat-like): medians of alternating rounds, and every round. */
  chat?: StepFigures[];
  chatRounds?: StepFigures[][];
  /** The chat-like shape at rising rates until saturated (one round). */
  chatRamp?: StepFigures[];
  /** The chat-like shape offered twice the most it kept up with (one step). */
  chatOverload?: StepFigures[];
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
/** The peer with Switchboard's guarantees (bench/servers/socketio-guarded.ts): the first baseline in every ratio. */
const peer = 'socket.io guarded';

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
  const perMessage = (name: string, steps: (f: TargetFigures) => StepFigures[] | undefined) => {
    list.push(
      { label: `${name}: server CPU µs per message`, value: (f) => steps(f)?.[0]?.cpuMicrosPerMessage },
      { label: `${name}: PostgreSQL (its backends) CPU µs per message`, value: (f) => steps(f)?.[0]?.postgresMicrosPerMessage },
      { label: `${name}: Redis CPU µs per message`, value: (f) => steps(f)?.[0]?.redisMicrosPerMessage },
      { label: `${name}: latency p50 ms`, value: (f) => steps(f)?.[0]?.p50Ms, digits: 1 },
      { label: `${name}: latency p99 ms`, value: (f) => steps(f)?.[0]?.p99Ms, digits: 1 },
      { label: `${name}: lost + duplicated`, value: (f) => steps(f)?.reduce((sum, s) => sum + s.lost + s.duplicated, 0), ratio: false },
    );
  };
  const small = plan.smallRoom as { members: number; rate: number; rounds: number } | undefined;
  if (small) perMessage(`1 room of ${small.members}, ${small.rate} msg/s, median of ${small.rounds} rounds`, (f) => f.smallRoom);
  const chat = plan.chat as { rooms: number; members: number; rate: number; rounds: number } | undefined;
  if (chat) {
    perMessage(`${chat.rooms} rooms of ${chat.members}, ${chat.rate} msg/s, median of ${chat.rounds} rounds`, (f) => f.chat);
    // The most messages/s a target kept up with (every member got them, p99 under a second), and that step's p99.
    const kept = (f: TargetFigures) => f.chatRamp?.filter((s) => !saturated(s)).at(-1);
    list.push(
      { label: `${chat.rooms} rooms of ${chat.members}, rising rate, sends queued: most messages/s kept up with`, value: (f) => kept(f)?.messagesPerSecond },
      { label: `${chat.rooms} rooms of ${chat.members}, rising rate, sends queued: p99 ms at that rate`, value: (f) => kept(f)?.p99Ms, digits: 1 },
      { label: `${chat.rooms} rooms of ${chat.members}, rising rate, sends queued: server cores at that rate`, value: (f) => kept(f)?.serverCores, digits: 2 },
      { label: `${chat.rooms} rooms of ${chat.members}, rising rate, sends queued: first rate not kept up with`, value: (f) => f.chatRamp?.find(saturated)?.messagesPerSecond, ratio: false },
    );
    // Offered twice that: sends refused at once keep the accepted ones fast; nothing accepted may be lost.
    const over = (f: TargetFigures) => f.chatOverload?.[0];
    list.push(
      { label: `${chat.rooms} rooms of ${chat.members}, offered twice that: messages/s offered`, value: (f) => over(f)?.messagesPerSecond, ratio: false },
      { label: `${chat.rooms} rooms of ${chat.members}, offered twice that: messages/s accepted and delivered`, value: (f) => (over(f) ? over(f)!.deliveriesPerSecond / chat.members : undefined) },
      { label: `${chat.rooms} rooms of ${chat.members}, offered twice that: share refused at once`, value: (f) => (over(f) ? (over(f)!.refused ?? 0) / (over(f)!.offeredPerSecond / chat.members) / (settleSeconds + (plan.stepSeconds as number)) : undefined), digits: 2, ratio: false },
      { label: `${chat.rooms} rooms of ${chat.members}, offered twice that: accepted p99 ms`, value: (f) => over(f)?.p99Ms, digits: 1 },
      { label: `${chat.rooms} rooms of ${chat.members}, offered twice that: accepted max ms`, value: (f) => over(f)?.maxMs, digits: 1 },
      { label: `${chat.rooms} rooms of ${chat.members}, offered twice that: accepted but lost`, value: (f) => over(f)?.lost, ratio: false },
    );
  }
  return list;
}

const show = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function renderTable(results: Results): string {
  // Switchboard first, then the guarded peer, then the relays.
  const rank = (name: string) => ([ours, peer].includes(name) ? [ours, peer].indexOf(name) : 2);
  const names = Object.keys(results.targets).sort((a, b) => rank(a) - rank(b));
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
