/**
 * The atomic steps behind connection seats, each in Lua (Redis) and its
 * JavaScript twin (in-process store).
 *
 * Keys: `seats` is a sorted set of user id -> lease expiry (ms); each user's
 * `sockets` set holds socket id -> lease expiry. A seat's score is the latest
 * lease of its user's sockets, so a seat whose score has passed has no live
 * socket left: its instance stopped renewing (it died), and it may be reused.
 */
import type { AtomicScript } from '../infra/state.ts';

/** Result of an admission: the socket took a new seat, shares its user's seat, or is refused and why. */
export type AdmissionResult = 'new' | 'shared' | 'slots' | 'sockets';

/**
 * KEYS: seats, the user's sockets. ARGV: userId, socketId, now, leaseUntil,
 * maxConnections, maxSocketsPerUser, leaseMs.
 */
export const admitSocket: AtomicScript<AdmissionResult> = {
  lua: `
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
    local sockets = redis.call('ZCARD', KEYS[2])
    if sockets >= tonumber(ARGV[6]) then return 'sockets' end
    local result = 'shared'
    if sockets == 0 then
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
      redis.call('ZREM', KEYS[1], ARGV[1])
      if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return 'slots' end
      result = 'new'
    end
    redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[7])
    redis.call('ZADD', KEYS[1], 'GT', ARGV[4], ARGV[1])
    return result`,
  local(store, [seats, sockets], [userId, socketId, now, leaseUntil, maxConnections, maxSockets, leaseMs]) {
    store.zremRangeByScore(sockets!, -Infinity, Number(now));
    const count = store.zcard(sockets!);
    if (count >= Number(maxSockets)) return 'sockets';
    let result: AdmissionResult = 'shared';
    if (count === 0) {
      store.zremRangeByScore(seats!, -Infinity, Number(now));
      store.zrem(seats!, userId!);
      if (store.zcard(seats!) >= Number(maxConnections)) return 'slots';
      result = 'new';
    }
    store.zadd(sockets!, Number(leaseUntil), socketId!);
    store.expire(sockets!, Number(leaseMs) / 1000);
    store.zadd(seats!, Number(leaseUntil), userId!, 'gt');
    return result;
  },
};

/**
 * Removes one socket; frees the seat only when it was its user's last live
 * socket. KEYS: seats, the user's sockets. ARGV: userId, socketId, now.
 * Returns 1 when the seat was freed.
 */
export const releaseSocket: AtomicScript<number> = {
  lua: `
    redis.call('ZREM', KEYS[2], ARGV[2])
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
    if redis.call('ZCARD', KEYS[2]) == 0 then return redis.call('ZREM', KEYS[1], ARGV[1]) end
    return 0`,
  local(store, [seats, sockets], [userId, socketId, now]) {
    store.zrem(sockets!, socketId!);
    store.zremRangeByScore(sockets!, -Infinity, Number(now));
    return store.zcard(sockets!) === 0 ? store.zrem(seats!, userId!) : 0;
  },
};

/**
 * Extends the leases of this instance's sockets. KEYS: seats, then one
 * sockets key per pair. ARGV: leaseUntil, leaseMs, then userId, socketId pairs.
 */
export const renewSockets: AtomicScript<number> = {
  lua: `
    for i = 2, #KEYS do
      redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2 * i])
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2 * i - 1])
    end
    return #KEYS - 1`,
  local(store, keys, [leaseUntil, leaseMs, ...pairs]) {
    for (let i = 1; i < keys.length; i++) {
      store.zadd(keys[i]!, Number(leaseUntil), pairs[2 * i - 1]!);
      store.expire(keys[i]!, Number(leaseMs) / 1000);
      store.zadd(keys[0]!, Number(leaseUntil), pairs[2 * i - 2]!, 'gt');
    }
    return keys.length - 1;
  },
};

/** Frees the seats whose lease has passed. KEYS: seats. ARGV: now. Returns the user ids freed. */
export const sweepSeats: AtomicScript<string[]> = {
  lua: `
    local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
    if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) end
    return expired`,
  local(store, [seats], [now]) {
    const expired = store.zrangeByScore(seats!, -Infinity, Number(now));
    store.zremRangeByScore(seats!, -Infinity, Number(now));
    return expired;
  },
};
