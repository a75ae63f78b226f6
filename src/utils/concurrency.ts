/**
 * A bound on how many of some work run at once: the rest wait their turn,
 * first come first served. Used where work occupies a core (bcrypt on
 * libuv's threadpool) and too much of it at once would starve the event loop.
 * The queue can be bounded by the wait it means too: a task that would wait
 * longer than `maxWaitMs`, judged by how long the last tasks took, is
 * refused with {@link TooLongAWait} at once instead of joining it (work
 * queued for minutes is mostly work for clients that gave up).
 */
export type ConcurrencyLimit = <T>(task: () => Promise<T>, priority?: Priority) => Promise<T>;

/**
 * A task's place in line: 'high' tasks are started before every waiting
 * 'low' one, and a 'high' task's expected wait counts only the 'high' tasks
 * ahead of it (a login is not refused because registrations queue).
 */
export type Priority = 'high' | 'low';

/** A task refused because the queue would hold it longer than allowed. */
export class TooLongAWait extends Error {
  override name = 'TooLongAWait';
  constructor(readonly expectedWaitMs: number) {
    super(`the queue would hold this task for about ${Math.round(expectedWaitMs)} ms`);
  }
}

/** How much the last task's duration moves the average the expected wait is judged by. */
const durationWeight = 0.2;

/**
 * @param limit Tasks that run at once.
 * @param maxWaitMs Longest expected wait a task may join the queue for. @default Infinity (no bound)
 */
export function limitConcurrency(limit: number, maxWaitMs = Number.POSITIVE_INFINITY): ConcurrencyLimit {
  let running = 0;
  const waiting: Record<Priority, Array<() => void>> = { high: [], low: [] };
  /** Moving average of the tasks' durations; 0 until one has finished. */
  let averageMs = 0;
  return async (task, priority = 'high') => {
    if (running >= limit) {
      const ahead = waiting.high.length + (priority === 'low' ? waiting.low.length : 0);
      const expectedWaitMs = ((ahead + 1) / limit) * averageMs;
      if (expectedWaitMs > maxWaitMs) throw new TooLongAWait(expectedWaitMs);
    }
    // A finished task hands its place straight to the first one waiting.
    if (running < limit) running++;
    else await new Promise<void>((resolve) => waiting[priority].push(resolve));
    const started = performance.now();
    try {
      return await task();
    } finally {
      const tookMs = performance.now() - started;
      averageMs = averageMs === 0 ? tookMs : averageMs + durationWeight * (tookMs - averageMs);
      const next = waiting.high.shift() ?? waiting.low.shift();
      if (next) next();
      else running--;
    }
  };
}
