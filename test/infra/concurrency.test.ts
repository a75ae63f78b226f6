/** limitConcurrency: at most `limit` tasks at once, the others started in the order they came as places free up, unless their wait would be too long. */
import { describe, expect, it } from 'vitest';
import { limitConcurrency, TooLongAWait } from '../../src/utils/concurrency.ts';

/** A task that runs until told to finish (or fail), noting when it starts. */
function heldTask(name: string, started: string[]) {
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    finish = () => resolve(name);
    fail = reject;
  });
  return { run: () => (started.push(name), done), finish, fail };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('limitConcurrency', () => {
  it('runs at most `limit` at once and starts the waiting ones in order as places free up, a failure freeing its place too', async () => {
    const inTurn = limitConcurrency(2);
    const started: string[] = [];
    const tasks = ['a', 'b', 'c', 'd'].map((name) => heldTask(name, started));
    const results = tasks.map((task) => inTurn(task.run));
    const firstOutcome = results[0]!.then(() => 'finished', (error: Error) => error.message);
    await settle();
    expect(started).toEqual(['a', 'b']);
    tasks[1]!.finish();
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    tasks[0]!.fail(new Error('refused'));
    await settle();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    tasks[2]!.finish();
    tasks[3]!.finish();
    expect(await firstOutcome).toBe('refused');
    expect(await Promise.all(results.slice(1))).toEqual(['b', 'c', 'd']);
  });

  it('with nothing running, a new task starts at once', async () => {
    const inTurn = limitConcurrency(1);
    const started: string[] = [];
    const first = heldTask('first', started);
    const running = inTurn(first.run);
    first.finish();
    await running;
    const second = heldTask('second', started);
    const next = inTurn(second.run);
    await settle();
    expect(started).toEqual(['first', 'second']);
    second.finish();
    expect(await next).toBe('second');
  });

  it('refuses a task that would wait longer than maxWaitMs, judged by how long tasks took, and runs nothing of it', async () => {
    const inTurn = limitConcurrency(1, 150);
    const started: string[] = [];
    // One task of 120 ms: the queue now judges a task's wait at 120 ms per task ahead of it.
    await inTurn(() => new Promise((resolve) => setTimeout(resolve, 120)));
    const [a, b, c] = ['a', 'b', 'c'].map((name) => heldTask(name, started));
    const ran = [inTurn(a!.run), inTurn(b!.run)];
    const refused = await inTurn(c!.run).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TooLongAWait);
    expect((refused as TooLongAWait).expectedWaitMs).toBeGreaterThan(150);
    await settle();
    expect(started).toEqual(['a']);
    a!.finish();
    await settle();
    b!.finish();
    expect(await Promise.all(ran)).toEqual(['a', 'b']);
    expect(started).toEqual(['a', 'b']);
  });

  it("starts every waiting 'high' task before any waiting 'low' one, and judges a 'high' task's wait by the 'high' ones ahead only", async () => {
    const inTurn = limitConcurrency(1, 150);
    await inTurn(() => new Promise((resolve) => setTimeout(resolve, 100)));
    const started: string[] = [];
    const [running, low1, low2, high] = ['running', 'low1', 'low2', 'high'].map((name) => heldTask(name, started));
    const results = [inTurn(running!.run), inTurn(low1!.run, 'low')];
    // Two tasks ahead (200 ms) would be too long a wait for another low one, but a high one has none ahead of it.
    expect(await inTurn(low2!.run, 'low').catch((error: unknown) => error)).toBeInstanceOf(TooLongAWait);
    results.push(inTurn(high!.run, 'high'));
    running!.finish();
    await settle();
    expect(started).toEqual(['running', 'high']);
    high!.finish();
    await settle();
    expect(started).toEqual(['running', 'high', 'low1']);
    low1!.finish();
    expect(await Promise.all(results)).toEqual(['running', 'low1', 'high']);
  });
});
