/** limitConcurrency: at most `limit` tasks at once, the others started in the order they came as places free up. */
import { describe, expect, it } from 'vitest';
import { limitConcurrency } from '../../src/infra/concurrency.ts';

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
});
