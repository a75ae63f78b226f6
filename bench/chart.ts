/**
 * The chart of a run: server CPU per delivery against subscribers per room,
 * one bar per target, on a log scale (a delivery in a room of 5 carries a
 * fifth of its message's cost, in a room of 500 a five-hundredth). Plain
 * SVG, no dependency; `node --import tsx bench/chart-png.ts` renders it to
 * the PNG docs/performance.md shows.
 */
import { writeFile } from 'node:fs/promises';
import type { Results, TargetFigures } from './report.ts';
import type { StepFigures } from './load/scenarios.ts';

interface Group {
  label: string;
  value: (figures: TargetFigures) => number | undefined;
}

const first = (steps: StepFigures[] | undefined) => steps?.[0]?.cpuMicrosPerDelivery;

function groups(results: Results): Group[] {
  const { plan } = results;
  const [fanOutFirst, ...more] = plan.fanOutSubscribers;
  const small = plan.smallRoom as { members: number; rate: number } | undefined;
  const chat = plan.chat as { rooms: number; members: number; rate: number } | undefined;
  return [
    ...(small ? [{ label: `1 room of ${small.members}, ${small.rate} msg/s`, value: (f: TargetFigures) => first(f.smallRoom) }] : []),
    ...(chat ? [{ label: `${chat.rooms} rooms of ${chat.members}, ${chat.rate} msg/s`, value: (f: TargetFigures) => first(f.chat) }] : []),
    { label: `1 room of ${fanOutFirst}, ${plan.rates[0]} msg/s`, value: (f) => first(f.fanOutMedian ?? f.fanOut?.[fanOutFirst!]) },
    ...more.map((n) => ({ label: `1 room of ${n}, ${plan.rates[0]} msg/s`, value: (f: TargetFigures) => first(f.fanOut?.[n]) })),
    { label: `2 instances, ${fanOutFirst} subs, ${plan.crossRates[0]} msg/s`, value: (f) => first(f.crossInstance) },
  ];
}

const colours = ['#1f6feb', '#d62728', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b'];
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function renderChart(results: Results): string {
  const names = Object.keys(results.targets);
  const list = groups(results);
  const width = 980;
  const height = 460;
  const left = 70;
  const top = 50;
  const bottom = 90;
  const plotHeight = height - top - bottom;
  const groupWidth = (width - left - 20) / list.length;
  const barWidth = Math.min(26, (groupWidth - 16) / names.length);
  // Log scale from 1 µs to the next power of ten above the largest value.
  const values = list.flatMap((g) => names.map((n) => g.value(results.targets[n]!))).filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
  const decades = Math.max(1, Math.ceil(Math.log10(Math.max(10, ...values))));
  const y = (v: number) => top + plotHeight * (1 - Math.log10(Math.max(1, v)) / decades);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">Server CPU per delivery, µs (log scale; lower is better)</text>`,
    `<text x="${left}" y="40" fill="#555">${escape(results.machine)}; ${escape(results.date)}</text>`,
  ];
  for (let d = 0; d <= decades; d++) {
    const at = y(10 ** d);
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${at}" y2="${at}" stroke="#ddd"/>`, `<text x="${left - 8}" y="${at + 4}" text-anchor="end">${10 ** d}</text>`);
  }
  list.forEach((group, g) => {
    const x0 = left + g * groupWidth + (groupWidth - barWidth * names.length) / 2;
    names.forEach((name, i) => {
      const value = group.value(results.targets[name]!);
      if (value === undefined || !Number.isFinite(value)) return;
      const x = x0 + i * barWidth;
      parts.push(
        `<rect x="${x}" y="${y(value)}" width="${barWidth - 3}" height="${top + plotHeight - y(value)}" fill="${colours[i % colours.length]}"/>`,
        `<text x="${x + (barWidth - 3) / 2}" y="${y(value) - 4}" text-anchor="middle" font-size="9">${value < 10 ? value.toFixed(1) : Math.round(value)}</text>`,
      );
    });
    parts.push(`<text x="${left + g * groupWidth + groupWidth / 2}" y="${top + plotHeight + 18}" text-anchor="middle">${escape(group.label)}</text>`);
  });
  names.forEach((name, i) => {
    const x = left + i * 150;
    parts.push(`<rect x="${x}" y="${height - 34}" width="12" height="12" fill="${colours[i % colours.length]}"/>`, `<text x="${x + 18}" y="${height - 24}">${escape(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Writes the run's chart as SVG beside its table. */
export async function writeChart(results: Results, file: URL): Promise<void> {
  await writeFile(file, `${renderChart(results)}\n`);
}
