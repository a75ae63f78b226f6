/** The whole project (src, test, bench, client, scripts) passes `npm run typecheck`: tsx runs it without checking types. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));

describe('types', () => {
  it('check (tsc --noEmit, strict)', () => {
    const run = spawnSync(process.execPath, [tsc, '--noEmit', '--pretty', 'false'], { cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`.trim()).toBe('');
    expect(run.status).toBe(0);
  }, 120_000);
});
