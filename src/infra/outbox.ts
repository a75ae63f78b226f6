/**
 * What an instance tells the others once something is committed (a message
 * stored, a member left, a room changed, an invitation, a session ended).
 * The caller does not wait: what it did is done, and a bus that fails now
 * must not turn a committed change into an error. Messages to one channel
 * go out in the order given; one that fails is tried again after 1, 2, 4, 8
 * and 16 s, and those given after it wait behind it, so that listeners hear
 * them in order (a member's JOINED before its LEFT). A message is given up
 * (logged) once it is 31 s old: by then the bus is most likely cut off on
 * every instance, and each one re-reads what it keeps once its bus is back.
 */
import type { Bus } from './bus.ts';
import type { Logger } from './logger.ts';
import { withRetries, type RetryOptions } from './retry.ts';

export interface Outbox {
  /** Publishes `message` on `channel` after what was given to that channel before; `context` goes into the log lines of a failure. */
  send(channel: string, message: unknown, context?: Record<string, unknown>): void;
  /** Resolves once everything given so far was published or given up (graceful shutdown). */
  drained(): Promise<void>;
}

/** Tries after the first: 1, 2, 4, 8 and 16 s later. */
const retries = 5;
/** A message older than this is given up, queued or not. */
const giveUpAfterMs = 31_000;

export function createOutbox(bus: Pick<Bus, 'publish'>, logger: Pick<Logger, 'warn' | 'error'>): Outbox {
  /** Per channel, the last message given: the next one goes out once it settled. */
  const tails = new Map<string, Promise<void>>();
  return {
    send(channel, message, context = {}) {
      const options: RetryOptions = {
        retries,
        giveUpAt: Date.now() + giveUpAfterMs,
        logger,
        context: { ...context, channel },
        retrying: 'bus message not published yet; retrying',
        givingUp: 'bus message not published; given up (instances re-read what they keep once their bus is back)',
      };
      const tail = (tails.get(channel) ?? Promise.resolve()).then(async () => void (await withRetries(() => bus.publish(channel, message), options)));
      tails.set(channel, tail);
      void tail.then(() => {
        if (tails.get(channel) === tail) tails.delete(channel);
      });
    },
    async drained() {
      while (tails.size > 0) await Promise.all(tails.values());
    },
  };
}
