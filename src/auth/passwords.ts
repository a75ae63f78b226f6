/**
 * Password hashing with bcrypt's asynchronous API, which runs on libuv's
 * threadpool so a login never blocks the event loop. Each hash keeps a core
 * busy for its whole cost: at most one fewer than the machine's cores run
 * at once, so that a login storm leaves the event loop (every socket's
 * messages) a core of its own; the other logins wait their turn, unless
 * their turn would come later than PASSWORD_QUEUE_MAX_WAIT: they are
 * refused at once with RATE_LIMITED, its retryAfter the wait they would
 * have had (a client long gone would otherwise still be hashed for).
 *
 * bcrypt reads only the first 72 bytes of its input, and a 128-character
 * password may be far longer in UTF-8; the password is therefore first
 * reduced to its SHA-256 digest (base64, 44 bytes), so every character counts.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import { limitConcurrency, TooLongAWait, type ConcurrencyLimit, type Priority } from '../utils/concurrency.ts';
import { rateLimited } from '../core/errors.ts';
import { metrics } from '../core/metrics.ts';

const prehash = (password: string): string => createHash('sha256').update(password, 'utf8').digest('base64');

export interface PasswordHasher {
  /** Hashes a new password; `low` waits behind every sign-in (registrations, so that a burst of them cannot starve logins). @default 'high' */
  hash(password: string, priority?: Priority): Promise<string>;
  /** True when `password` matches `hash`. */
  verify(password: string, hash: string): Promise<boolean>;
  /**
   * Spends the same time as a real verification against a hash of the
   * configured cost: used when the account does not exist, so that timing
   * does not tell whether it does.
   */
  verifyNothing(password: string): Promise<false>;
}

/** Hashes in turn; a hash whose turn is too far off is refused with RATE_LIMITED. */
function hashInTurn(maxWaitSeconds: number): ConcurrencyLimit {
  // All cores but one (at least one) hash at once.
  const inTurn = limitConcurrency(Math.max(1, availableParallelism() - 1), maxWaitSeconds * 1000);
  return async (task, priority) => {
    try {
      return await inTurn(task, priority);
    } catch (error) {
      if (!(error instanceof TooLongAWait)) throw error;
      metrics.rateLimitHits.inc({ kind: 'password-queue' });
      throw rateLimited(error.expectedWaitMs / 1000, 'The server is busy checking passwords; try again shortly.');
    }
  };
}

/**
 * @param cost bcrypt work factor (BCRYPT_COST).
 * @param maxWaitSeconds longest expected wait for a turn (PASSWORD_QUEUE_MAX_WAIT).
 */
export function createPasswordHasher(cost: number, maxWaitSeconds: number): PasswordHasher {
  const inTurn = hashInTurn(maxWaitSeconds);
  const hash = (password: string, priority?: Priority) =>
    inTurn(() => {
      metrics.passwordHashing.inc({ kind: 'hash' });
      return bcrypt.hash(prehash(password), cost);
    }, priority);
  const verify = (password: string, stored: string) =>
    inTurn(() => {
      metrics.passwordHashing.inc({ kind: 'verify' });
      return bcrypt.compare(prehash(password), stored);
    });
  // Made now, so that even the first unknown-user login costs one comparison, not a hash too.
  const dummy = hash('switchboard dummy password');
  return {
    hash,
    verify,
    async verifyNothing(password) {
      await verify(password, await dummy);
      return false;
    },
  };
}
