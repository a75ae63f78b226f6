/**
 * The atomic steps behind connection seats, each in Lua (Redis) and its
 * JavaScript twin (in-process store).
 *
 * Keys: `seats` is a sorted set of user id -> lease expiry (ms); each user's
 * `sockets` set holds socket id -> lease expiry. A seat's score is the latest
 * lease of its user's sockets, so a seat whose score has passed has no live
 * socket left: its instance stopped renewing (it died), and it may be reused.
 */
import type { AtomicScript } from '../adapters/state.ts';

/**
 * Result of an admission: the socket took a new seat, shares its user's seat, or is refused and why ('held': the
 * seats are being put back after Redis lost its state, see slots/recovery.ts).
 */
export type AdmissionResult = 'new' | 'shared' | 'slots' | 'sockets' | 'held';

/**
 * KEYS: seats, the user's sockets, stateEpoch. ARGV: userId, socketId, now,
 * leaseUntil, maxConnections, maxSocketsPerUser, leaseMs, epoch. Returns
 * 'lost' when the shared state is not the epoch whose seats this instance
 * put back (Redis lost its state, maybe unnoticed yet), 'held' before the
 * epoch's openAt: in both the seat count may lack other instances' seats.
 */
export const admitSocket: AtomicScript<AdmissionResult | 'lost'> = {
  lua: `
    local epoch = redis.call('HMGET', KEYS[3], 'epoch', 'openAt')
    if epoch[1] ~= ARGV[8] then return 'lost' end
    if tonumber(epoch[2]) > tonumber(ARGV[3]) then return 'held' end
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
  local(store, [seats, sockets, marker], [userId, socketId, now, leaseUntil, maxConnections, maxSockets, leaseMs, epoch]) {
    if (store.hget(marker!, 'epoch') !== epoch) return 'lost';
    if (Number(store.hget(marker!, 'openAt')) > Number(now)) return 'held';
    store.zremRangeByScore(sockets!, -Infinity, Number(now));
    const count = store.zcard(sockets!);
    if (count >= Number(maxSockets)) return 'sockets';
    let result: AdmissionResult | 'lost' = 'shared';
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

/**
 * Reads the state's epoch (Keys.stateEpoch), writing it when missing. KEYS:
 * stateEpoch. ARGV: candidate epoch, now, the epoch this instance knew ('' for
 * none), openAt after a loss, openAt after a start that may be one
 * (settle), the channel every instance listens to. Returns [epoch, openAt].
 *
 * Missing, and this instance knew an epoch: Redis lost its state, and the
 * instances need a renewal interval to put their seats back (the loss hold).
 * Missing, and it knew none: a first start, or a loss it cannot tell from
 * one. When no other instance listens on Redis and Redis has been up longer
 * than the settle time (the longest an instance takes to reconnect), nobody
 * can hold seats: open at once; else wait the settle time. Present with
 * another epoch than the one it knew: a loss noticed first elsewhere,
 * perhaps as a start: held at least one loss hold from its creation.
 */
export const claimEpoch: AtomicScript<[string, number]> = {
  lua: `
    local found = redis.call('HMGET', KEYS[1], 'epoch', 'createdAt', 'openAt')
    local now, knew = tonumber(ARGV[2]), ARGV[3]
    local lossHold, settle = tonumber(ARGV[4]) - now, tonumber(ARGV[5]) - now
    if not found[1] then
      local openAt = now + lossHold
      if knew == '' then
        local others = redis.call('PUBSUB', 'NUMSUB', ARGV[6])[2]
        local uptime = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')) * 1000
        if others > 0 then openAt = now + settle else openAt = now + math.max(0, settle - uptime) end
      end
      redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'createdAt', ARGV[2], 'openAt', string.format('%d', openAt))
      return {ARGV[1], openAt}
    end
    local openAt = tonumber(found[3])
    if knew ~= '' and found[1] ~= knew and tonumber(found[2]) + lossHold > openAt then
      openAt = tonumber(found[2]) + lossHold
      redis.call('HSET', KEYS[1], 'openAt', string.format('%d', openAt))
    end
    return {found[1], openAt}`,
  // One process: nobody else can hold seats, and its store is never lost.
  local(store, [marker], [candidate, now, knew, lossUntil]) {
    const found = store.hget(marker!, 'epoch');
    const lossHold = Number(lossUntil) - Number(now);
    if (found === null) {
      const openAt = knew === '' ? Number(now) : Number(lossUntil);
      store.hset(marker!, 'epoch', candidate!);
      store.hset(marker!, 'createdAt', now!);
      store.hset(marker!, 'openAt', String(openAt));
      return [candidate!, openAt];
    }
    let openAt = Number(store.hget(marker!, 'openAt'));
    const createdAt = Number(store.hget(marker!, 'createdAt'));
    if (knew !== '' && found !== knew && createdAt + lossHold > openAt) {
      openAt = createdAt + lossHold;
      store.hset(marker!, 'openAt', String(openAt));
    }
    return [found, openAt];
  },
};
