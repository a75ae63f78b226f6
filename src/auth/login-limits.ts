/**
 * The failed-login limits. A point is taken before the password is checked,
 * for every budget at once (one atomic step), and given back when the
 * password was right: concurrent guesses cannot get past a budget, and a
 * guess that finds none left is refused without hashing.
 *
 * - A client presenting a valid device token for the account
 *   (src/auth/devices.ts) spends only its device's own budget
 *   (LOGIN_FAILURES_PER_ACCOUNT per window): others' failures never lock it out.
 * - Any other client spends, hard, its (account, IP) budget
 *   (LOGIN_FAILURES_PER_ACCOUNT) and its IP's (LOGIN_FAILURES_PER_IP); and
 *   the account's slowdown: past LOGIN_FAILURES_PER_ACCOUNT failures in a
 *   window, each attempt waits 1 s, doubling, up to LOGIN_SLOWDOWN_MAX. The
 *   owner on a new device is slowed, never locked out for good.
 */
import type { Config } from '../core/config.ts';
import { consumeWithSlowdownOrThrow, createRateLimiter, giveBack, type SlowTake, type Take } from '../adapters/rate-limit.ts';
import type { SharedState } from '../adapters/state.ts';

export interface LoginAttempt {
  /** The account's id, or `name:<login>` for a name that has no account (it is limited alike). */
  accountKey: string;
  ip: string;
  /** The device id of a valid device token for this account, else null. */
  deviceId: string | null;
}

export interface TakenAttempt {
  /** The password was right: the points go back and the account's slowdown is forgotten. */
  succeeded(): Promise<void>;
}

export interface LoginLimits {
  /** Takes one attempt from every budget that applies, or throws RATE_LIMITED (taking nothing). */
  take(attempt: LoginAttempt): Promise<TakenAttempt>;
}

const refusal = 'Too many failed sign-in attempts; try again later.';

export function createLoginLimits(state: SharedState, config: Pick<Config, 'LOGIN_FAILURES_PER_ACCOUNT' | 'LOGIN_FAILURES_PER_IP' | 'LOGIN_FAILURE_WINDOW' | 'LOGIN_SLOWDOWN_MAX'>): LoginLimits {
  const windowSeconds = config.LOGIN_FAILURE_WINDOW;
  // One group: the budgets of an attempt are taken in one script, so on a Redis Cluster they share a hash tag.
  const group = 'login';
  const device = createRateLimiter(state, { name: 'login-device', points: config.LOGIN_FAILURES_PER_ACCOUNT, windowSeconds, group });
  const accountFromIp = createRateLimiter(state, { name: 'login-account-ip', points: config.LOGIN_FAILURES_PER_ACCOUNT, windowSeconds, group });
  const address = createRateLimiter(state, { name: 'login-ip', points: config.LOGIN_FAILURES_PER_IP, windowSeconds, group });
  const accountRule = { name: 'login-account', points: config.LOGIN_FAILURES_PER_ACCOUNT, windowSeconds, group, maxDelaySeconds: config.LOGIN_SLOWDOWN_MAX };

  return {
    async take({ accountKey, ip, deviceId }) {
      if (deviceId) {
        const own: Take = { limiter: device, key: deviceId, message: refusal };
        await consumeWithSlowdownOrThrow(state, [own]);
        return { succeeded: () => giveBack(state, [], { takes: [own] }) };
      }
      const pair: Take = { limiter: accountFromIp, key: `${accountKey}|${ip}`, message: refusal };
      const fromIp: Take = { limiter: address, key: ip, message: refusal };
      const slow: SlowTake = { rule: accountRule, key: accountKey, message: refusal };
      await consumeWithSlowdownOrThrow(state, [pair, fromIp], slow);
      // The IP's other failures (other accounts) stay counted; this account's are forgiven.
      return { succeeded: () => giveBack(state, [fromIp], { takes: [pair], slow: [slow] }) };
    },
  };
}
