/**
 * What an instance tells the others once something is committed (a message
 * stored, a member joined or left, a room changed, an invitation, a session
 * ended). The caller does not wait: what it did is done, and a bus that
 * fails now must not turn a committed change into an error. While a channel
 * is healthy its messages go out at once, pipelined on one connection and
 * so in order. A publish that fails (with the connection, those in flight
 * behind it fail too) is tried again at once, then after 1, 2, 4, 8 and
 * 16 s (infra/retry.ts), and what is
 * given to its channel meanwhile waits behind it, so that listeners still
 * hear them in order (a member's JOINED before its LEFT). A message is given
 * up (logged) once it is 31 s old: by then the bus is most likely cut off on
 * every instance, and each one re-reads what it keeps once its bus is back.
 */
import type { Bus, PublishOptions } from './bus.ts';
import { lastLineOf, type Logger } from './logger.ts';
import { withRetries, type RetryOptions } from './retry.ts';

export interface Outbox {
  /** Publishes `message` on `channel` after what was given to that channel before; `context` goes into the log lines of a failure. */
  send(channel: string, message: unknown, context?: Record<string, unknown>, options?: PublishOptions): void;
  /** Resolves once what waits behind a failure was published or given up (graceful shutdown). */
  drained(): Promise<void>;
}

interface Pending {
  message: unknown;
  options: PublishOptions | undefined;
  retry: RetryOptions;
}

/** Tries after the first failure: at once, then after 1, 2, 4, 8 and 16 s. */
const retries = 5;

export interface OutboxOptions {
  /**
   * A message older than this is given up, whether it was tried every time
   * or waited behind another.
   * @default 31_000 (just past the last retry)
   */
  giveUpAfterMs?: number;
}

export function createOutbox(bus: Pick<Bus, 'publish'>, logger: Pick<Logger, 'warn' | 'error'>, { giveUpAfterMs = 31_000 }: OutboxOptions = {}): Outbox {
  /** Channels with a failed publish: what waits there, the failed one first. */
  const waiting = new Map<string, Pending[]>();
  const draining = new Set<Promise<void>>();

  /** Publishes what waits on `channel`, one at a time, each retried (or given up) before the next. */
  async function drain(channel: string, queue: Pending[]): Promise<void> {
    for (; queue.length > 0; queue.shift()) await withRetries(() => bus.publish(channel, queue[0]!.message, queue[0]!.options), queue[0]!.retry);
    waiting.delete(channel);
  }

  function waitBehindFailure(channel: string, pending: Pending): void {
    const queue = waiting.get(channel);
    if (queue) return void queue.push(pending);
    const started = [pending];
    waiting.set(channel, started);
    const done = drain(channel, started).finally(() => draining.delete(done));
    draining.add(done);
  }

  return {
    send(channel, message, context = {}, options) {
      const retry: RetryOptions = {
        retries,
        giveUpAt: Date.now() + giveUpAfterMs,
        logger,
        context: { ...context, channel },
        retrying: 'bus message not published yet; retrying',
        givingUp: 'bus message not published; given up (instances re-read what they keep once their bus is back)',
      };
      const pending = { message, options, retry };
      if (waiting.has(channel)) return waitBehindFailure(channel, pending);
      bus.publish(channel, message, options).catch((error: unknown) => {
        logger.warn({ ...retry.context, err: lastLineOf(error) }, retry.retrying);
        waitBehindFailure(channel, pending);
      });
    },
    async drained() {
      while (draining.size > 0) await Promise.all(draining);
    },
  };
}
