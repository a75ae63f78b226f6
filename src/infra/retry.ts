/**
 * Background work that must not give up at the first failure (a publish
 * after a commit, an access re-check): tried again after 1, 2, 4 … s, each
 * failure logged, and handed to `onGiveUp` after the last retry.
 */
import { lastLineOf, type Logger } from './logger.ts';

export interface RetryOptions {
  /** Tries after the first one. */
  retries: number;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Logged with every failure. */
  context: Record<string, unknown>;
  /** Logged (warn) with a failure that will be tried again. */
  retrying: string;
  /** Logged (error) with the last failure. */
  givingUp: string;
  onGiveUp?: () => void;
}

/** Runs `task` now and, while it fails, again after 1, 2, 4 … s; never rejects. */
export function retryInBackground(task: () => Promise<void>, options: RetryOptions, attempt = 0): void {
  task().catch((error: unknown) => {
    const where = { ...options.context, err: lastLineOf(error) };
    if (attempt === options.retries) {
      options.logger.error(where, options.givingUp);
      return options.onGiveUp?.();
    }
    options.logger.warn(where, options.retrying);
    setTimeout(() => retryInBackground(task, options, attempt + 1), 1000 * 2 ** attempt).unref();
  });
}
