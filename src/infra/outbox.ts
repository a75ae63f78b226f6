/**
 * What an instance tells the others once something is committed (a message
 * stored, a member joined or left, a room changed, an invitation, a session
 * ended). The caller does not wait: what it did is done, and a bus that
 * fails now must not turn a committed change into an error. While a channel
 * is healthy its messages go out at once, pipelined on one connection and
 * so in order. A publish that fails (with the connection, those in flight
 * behind it fail too) is tried again after 1, 2, 4, 8 and 16 s, and what is
 * given to its channel meanwhile waits behind it, so that listeners still
 * hear them in order (a member's JOINED before its LEFT). A message is given
 * up (logged) once it is 31 s old: by then the bus is most likely cut off on
 * every instance, and each one re-reads what it keeps once its bus is back.
 */
import type { Bus } from './bus.ts';
import { lastLineOf, type Logger } from './logger.ts';

export interface Outbox {
  /** Publishes `message` on `channel` after what was given to that channel before; `context` goes into the log lines of a failure. */
  send(channel: string, message: unknown, context?: Record<string, unknown>): void;
  /** Resolves once what waits behind a failure was published or given up (graceful shutdown). */
  drained(): Promise<void>;
}

interface Pending {
  message: unknown;
  context: Record<string, unknown>;
  givenAt: number;
}

const firstRetryMs = 1000;
/** A message older than this is given up, whether it was tried five times or waited behind another. */
const giveUpAfterMs = 31_000;

export function createOutbox(bus: Pick<Bus, 'publish'>, logger: Pick<Logger, 'warn' | 'error'>): Outbox {
  /** Channels with a failed publish: what waits there, the failed one first. */
  const waiting = new Map<string, Pending[]>();
  const draining = new Set<Promise<void>>();

  /** Publishes what waits on `channel`, one at a time; the first has failed once already. */
  async function drain(channel: string, queue: Pending[]): Promise<void> {
    for (let attempt = 1; queue.length > 0; ) {
      const pending = queue[0]!;
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, firstRetryMs * 2 ** (attempt - 1)).unref());
      try {
        await bus.publish(channel, pending.message);
        queue.shift();
        attempt = 0;
      } catch (error) {
        if (failed(channel, pending, error, firstRetryMs * 2 ** attempt)) {
          attempt++;
        } else {
          queue.shift();
          attempt = 0;
        }
      }
    }
    waiting.delete(channel);
  }

  /** Logs a failure; true when the message is to be tried again after `retryInMs`, false when it is given up. */
  function failed(channel: string, pending: Pending, error: unknown, retryInMs: number): boolean {
    const where = { ...pending.context, channel, err: lastLineOf(error) };
    if (Date.now() + retryInMs - pending.givenAt > giveUpAfterMs) {
      logger.error(where, 'bus message not published; given up (instances re-read what they keep once their bus is back)');
      return false;
    }
    logger.warn(where, 'bus message not published yet; retrying');
    return true;
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
    send(channel, message, context = {}) {
      const pending = { message, context, givenAt: Date.now() };
      if (waiting.has(channel)) return waitBehindFailure(channel, pending);
      bus.publish(channel, message).catch((error: unknown) => {
        if (failed(channel, pending, error, firstRetryMs)) waitBehindFailure(channel, pending);
      });
    },
    async drained() {
      while (draining.size > 0) await Promise.all(draining);
    },
  };
}
