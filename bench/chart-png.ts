/**
 * Renders a run's chart (bench/results/latest.svg, or the SVG named as the
 * first argument) to docs/performance-chart.png (or the second argument)
 * with the system's Chromium through playwright-core, for pages that show
 * images rather than SVG. `node --import tsx bench/chart-png.ts`.
 */
import { readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const svgFile = process.argv[2] ?? new URL('./results/latest.svg', import.meta.url).pathname;
const pngFile = process.argv[3] ?? new URL('../docs/performance-chart.png', import.meta.url).pathname;
const svg = await readFile(svgFile, 'utf8');
const [width, height] = ['width', 'height'].map((a) => Number(new RegExp(`${a}="(\\d+)"`).exec(svg)?.[1] ?? 800));
const profile = mkdtempSync(path.join(os.tmpdir(), 'chart-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: width!, height: height! },
});
try {
  const page = await browser.newPage();
  await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
  await page.screenshot({ path: pngFile, clip: { x: 0, y: 0, width: width!, height: height! } });
  console.log(`wrote ${pngFile}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
