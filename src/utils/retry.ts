/**
 * Work that must not give up at the first failure (a publish after a
 * commit, see outbox.ts; an access re-check; the read of a user to show): tried again
 * after 1, 2, 4 … s (up to `maxDelayMs` apart), each failure logged, and
 * handed to `onGiveUp` after the last retry.
 */
import { lastLineOf } from './error-text.ts';

export interface RetryOptions {
  /** Tries after the first one. */
  retries: number;
  logger: { warn(details: object, message: string): void; error(details: object, message: string): void };
  /** Logged with every failure. */
  context: Record<string, unknown>;
  /** Logged (warn) with a failure that will be tried again. */
  retrying: string;
  /** Logged (error) with the last failure. */
  givingUp: string;
  /** Gives up, whatever is left of `retries`, when the next try would come after this time (ms since the epoch). @default never */
  giveUpAt?: number;
  /** The longest wait between two tries. @default no limit */
  maxDelayMs?: number;
  onGiveUp?: () => void;
}

/**
 * Runs `task` now and, while it fails, again after 1, 2, 4 … s (at most
 * `maxDelayMs`): resolves to
 * its value, or to undefined once the last retry failed too (after
 * `onGiveUp`). Never rejects.
 */
export async function withRetries<T>(task: () => Promise<T>, options: RetryOptions): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      const where = { ...options.context, err: lastLineOf(error) };
      const delay = Math.min(1000 * 2 ** attempt, options.maxDelayMs ?? Number.POSITIVE_INFINITY);
      if (attempt === options.retries || Date.now() + delay > (options.giveUpAt ?? Number.POSITIVE_INFINITY)) {
        options.logger.error(where, options.givingUp);
        options.onGiveUp?.();
        return undefined;
      }
      options.logger.warn(where, options.retrying);
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }
}

/**
 * A read whose answer is to be shown (an event's user or room), tried again
 * after 1, 2 and 4 s while its store does not answer: a blip delays what
 * waits for it rather than losing it. Undefined once the last try failed
 * (logged: "could not read `what`; `otherwise`").
 */
export function readToShow<T>(read: () => Promise<T>, options: Pick<RetryOptions, 'logger' | 'context'> & { what: string; otherwise: string }): Promise<T | undefined> {
  const { logger, context, what, otherwise } = options;
  return withRetries(read, { retries: 3, logger, context, retrying: `could not read ${what}; retrying`, givingUp: `could not read ${what}; ${otherwise}` });
}

/** {@link withRetries} for work nobody waits for. */
export function retryInBackground(task: () => Promise<void>, options: RetryOptions): void {
  void withRetries(task, options);
}
