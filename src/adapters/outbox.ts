/**
 * What an instance tells the others once something is committed (a message
 * stored, a member joined or left, a room changed, an invitation, a session
 * ended). The caller does not wait: what it did is done, and a bus that
 * fails now must not turn a committed change into an error. While a channel
 * is healthy its messages go out at once, pipelined on one connection and
 * so in order. A publish that fails (with the connection, those in flight
 * behind it fail too) is tried again at once, then after 1, 2, 4, 8 and
 * 16 s, then every 16 s (utils/retry.ts), and what is
 * given to its channel meanwhile waits behind it, so that listeners still
 * hear them in order (a member's JOINED before its LEFT). A message is given
 * up (logged) once it is 31 s old (`BUS_GIVE_UP_AFTER`), unless its sender
 * asks for longer. Each
 * instance re-reads what it keeps once its own bus is back, but were only
 * this instance's link to Redis down, the others would never hear what it
 * gave up (a member removed would go on receiving the room elsewhere): so
 * once something is given up, this instance asks every instance, itself
 * included, to re-read (`Channels.reread`), tried until Redis takes it. An
 * ended session is kept trying for as long as its tokens may be used
 * (auth/revocation.ts).
 */
import type { Bus, PublishOptions } from './bus.ts';
import { Channels } from '../core/codes.ts';
import type { Logger } from '../core/logger.ts';
import { lastLineOf } from '../utils/error-text.ts';
import { withRetries, type RetryOptions } from '../utils/retry.ts';

export interface SendOptions extends PublishOptions {
  /** This message is given up once this old (ms), rather than at the outbox's {@link OutboxOptions.giveUpAfterMs}. */
  giveUpAfterMs?: number;
}

export interface Outbox {
  /** Publishes `message` on `channel` after what was given to that channel before; `context` goes into the log lines of a failure. */
  send(channel: string, message: unknown, context?: Record<string, unknown>, options?: SendOptions): void;
  /** Resolves once what waits behind a failure was published or given up (graceful shutdown). */
  drained(): Promise<void>;
}

interface Pending {
  message: unknown;
  options: SendOptions;
  retry: RetryOptions;
}

/** Tries after the first failure: at once, then after 1, 2, 4, 8 and 16 s, then every 16 s until the message is given up. */
const maxDelayMs = 16_000;

export interface OutboxOptions {
  /**
   * A message older than this is given up, whether it was tried every time
   * or waited behind another.
   * @default 31_000 (the tries at once and after 1, 2, 4, 8 and 16 s)
   */
  giveUpAfterMs?: number;
}

export function createOutbox(bus: Pick<Bus, 'publish'>, logger: Pick<Logger, 'warn' | 'error'>, { giveUpAfterMs = 31_000 }: OutboxOptions = {}): Outbox {
  /** Channels with a failed publish: what waits there, the failed one first. */
  const waiting = new Map<string, Pending[]>();
  const draining = new Set<Promise<void>>();
  let rereadAsked = false;

  /** Tracks `work` until it settles, for drained(). */
  function track(work: Promise<unknown>): void {
    const done = work.then(() => {}).finally(() => draining.delete(done));
    draining.add(done);
  }

  /** One request at a time: a re-read begun after the request was sent covers what was given up before it. */
  function askEveryoneToReread(): void {
    if (rereadAsked) return;
    rereadAsked = true;
    const asked = withRetries(() => bus.publish(Channels.reread, {}), {
      retries: Number.POSITIVE_INFINITY,
      maxDelayMs,
      logger,
      context: { channel: Channels.reread },
      retrying: 'could not ask the instances to re-read what they keep; retrying',
      givingUp: 'could not ask the instances to re-read what they keep',
    }).finally(() => (rereadAsked = false));
    track(asked);
  }

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
    track(drain(channel, started));
  }

  return {
    send(channel, message, context = {}, options = {}) {
      const retry: RetryOptions = {
        retries: Number.POSITIVE_INFINITY,
        maxDelayMs,
        giveUpAt: Date.now() + (options.giveUpAfterMs ?? giveUpAfterMs),
        logger,
        context: { ...context, channel },
        retrying: 'bus message not published yet; retrying',
        givingUp: 'bus message not published; given up (the instances will be asked to re-read what they keep)',
        onGiveUp: askEveryoneToReread,
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
