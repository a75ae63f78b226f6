/**
 * Password hashing with bcrypt's asynchronous API, which runs on libuv's
 * threadpool so a login never stalls the event loop.
 *
 * bcrypt reads only the first 72 bytes of its input, and a 128-character
 * password may be far longer in UTF-8; the password is therefore first
 * reduced to its SHA-256 digest (base64, 44 bytes), so every character counts.
 */
import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';

const prehash = (password: string): string => createHash('sha256').update(password, 'utf8').digest('base64');

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True when `password` matches `hash`. */
  verify(password: string, hash: string): Promise<boolean>;
  /**
   * Spends the same time as a real verification against a hash of the
   * configured cost: used when the account does not exist, so that timing
   * does not tell whether it does.
   */
  verifyNothing(password: string): Promise<false>;
}

/** @param cost bcrypt work factor (BCRYPT_COST). */
export function createPasswordHasher(cost: number): PasswordHasher {
  const hash = (password: string) => bcrypt.hash(prehash(password), cost);
  const verify = (password: string, stored: string) => bcrypt.compare(prehash(password), stored);
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
