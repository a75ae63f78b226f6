/**
 * Presence transitions, each atomic (Lua on Redis, JavaScript twin in
 * process) so that of many instances and sockets exactly one sees a change
 * and publishes it: one event per change.
 *
 * The presence hash holds ONLINE, AWAY (chosen by the user) or IDLE (away by
 * inactivity, reported as AWAY); a user missing from it is OFFLINE.
 *
 * Each change gets the next number of one counter (Keys.presenceSeq) in the
 * script that makes it, so the numbers order the changes as they happened,
 * whatever order the bus delivers them in. A counter that starts afresh
 * (Redis restarted without persistence, or flushed) starts from the clock
 * in microseconds, above every number handed out before, so that instances
 * that remember earlier numbers do not take the new changes for old ones.
 */
import type { AtomicScript, MemoryStore } from '../adapters/state.ts';

export type PresenceStatus = 'ONLINE' | 'AWAY' | 'OFFLINE';
type Stored = 'ONLINE' | 'AWAY' | 'IDLE';

/** What happened to a user: connected (first socket), disconnected (last socket), active, or set by the user. */
export type PresenceInput = 'connect' | 'disconnect' | 'active' | 'ONLINE' | 'AWAY';

const reported = (stored: string | null): PresenceStatus => (stored === null ? 'OFFLINE' : stored === 'IDLE' ? 'AWAY' : (stored as PresenceStatus));

/** Lua: `counter(key)` makes sure the change counter exists (see above) and returns its key. */
const luaCounter = `
    local function counter(key)
      if redis.call('EXISTS', key) == 0 then
        local now = redis.call('TIME')
        redis.call('SET', key, now[1] .. string.format('%06d', tonumber(now[2])))
      end
      return key
    end`;

/** The JavaScript twin of `luaCounter`. */
function counter(store: MemoryStore, key: string): string {
  if (!store.exists(key)) store.set(key, String(Date.now() * 1000));
  return key;
}

/**
 * KEYS: presence, activity, presenceSeq. ARGV: userId, input, now.
 * Returns [status now, status it changed to or '', number of that change or 0].
 */
export const transition: AtomicScript<[PresenceStatus, PresenceStatus | '', number]> = {
  lua: `${luaCounter}
    local function reported(s) if not s then return 'OFFLINE' elseif s == 'IDLE' then return 'AWAY' else return s end end
    local user, input, now = ARGV[1], ARGV[2], ARGV[3]
    local current = redis.call('HGET', KEYS[1], user)
    local nextState = current
    if input == 'connect' then nextState = 'ONLINE'
    elseif input == 'disconnect' then nextState = false
    elseif input == 'active' then if current == 'IDLE' then nextState = 'ONLINE' end
    elseif current then nextState = input end
    if input == 'connect' or input == 'active' or (input == 'ONLINE' and current) then redis.call('HSET', KEYS[2], user, now) end
    if nextState then redis.call('HSET', KEYS[1], user, nextState)
    else redis.call('HDEL', KEYS[1], user); redis.call('HDEL', KEYS[2], user) end
    local before, after = reported(current), reported(nextState)
    if before == after then return {after, '', 0} end
    return {after, after, redis.call('INCR', counter(KEYS[3]))}`,
  local(store, [presence, activity, seq], [user, input, now]) {
    const current = store.hget(presence!, user!) as Stored | null;
    let next: Stored | null = current;
    if (input === 'connect') next = 'ONLINE';
    else if (input === 'disconnect') next = null;
    else if (input === 'active') next = current === 'IDLE' ? 'ONLINE' : current;
    else if (current) next = input as Stored;
    if (input === 'connect' || input === 'active' || (input === 'ONLINE' && current)) store.hset(activity!, user!, now!);
    if (next) store.hset(presence!, user!, next);
    else {
      store.hdel(presence!, user!);
      store.hdel(activity!, user!);
    }
    const after = reported(next);
    return reported(current) === after ? [after, '', 0] : [after, after, store.incr(counter(store, seq!))];
  },
};

/**
 * The periodic check: users whose seat is gone or whose lease runs out
 * before `aliveUntil` (their instance stopped renewing: heartbeat lost) go
 * OFFLINE; ONLINE users idle since before `awayBefore` go AWAY.
 * KEYS: presence, activity, seats, presenceSeq. ARGV: aliveUntil, awayBefore.
 * Returns [userId, new status, number of the change, ...].
 */
export const checkPresence: AtomicScript<(string | number)[]> = {
  lua: `${luaCounter}
    local changes = {}
    local entries = redis.call('HGETALL', KEYS[1])
    for i = 1, #entries, 2 do
      local user, status = entries[i], entries[i + 1]
      local seat = redis.call('ZSCORE', KEYS[3], user)
      if (not seat) or tonumber(seat) < tonumber(ARGV[1]) then
        redis.call('HDEL', KEYS[1], user)
        redis.call('HDEL', KEYS[2], user)
        table.insert(changes, user)
        table.insert(changes, 'OFFLINE')
        table.insert(changes, redis.call('INCR', counter(KEYS[4])))
      elseif status == 'ONLINE' and tonumber(redis.call('HGET', KEYS[2], user) or '0') < tonumber(ARGV[2]) then
        redis.call('HSET', KEYS[1], user, 'IDLE')
        table.insert(changes, user)
        table.insert(changes, 'AWAY')
        table.insert(changes, redis.call('INCR', counter(KEYS[4])))
      end
    end
    return changes`,
  local(store: MemoryStore, [presence, activity, seats, seq], [aliveUntil, awayBefore]) {
    const changes: (string | number)[] = [];
    for (const [user, status] of Object.entries(store.hgetall(presence!))) {
      const seat = store.zscore(seats!, user);
      if (seat === null || seat < Number(aliveUntil)) {
        store.hdel(presence!, user);
        store.hdel(activity!, user);
        changes.push(user, 'OFFLINE', store.incr(counter(store, seq!)));
      } else if (status === 'ONLINE' && Number(store.hget(activity!, user) ?? '0') < Number(awayBefore)) {
        store.hset(presence!, user, 'IDLE');
        changes.push(user, 'AWAY', store.incr(counter(store, seq!)));
      }
    }
    return changes;
  },
};

/**
 * The presence hash and the number of the last change it reflects, read at
 * once: a change numbered above it is newer than the read, one numbered at
 * most it is already in it.
 * KEYS: presence, presenceSeq. Returns [number, [userId, stored status, ...]].
 */
export const presenceSnapshot: AtomicScript<[number, string[]]> = {
  lua: `${luaCounter}
    return {tonumber(redis.call('GET', counter(KEYS[2]))), redis.call('HGETALL', KEYS[1])}`,
  local(store, [presence, seq]) {
    return [Number(store.get(counter(store, seq!))), Object.entries(store.hgetall(presence!)).flat()];
  },
};

/**
 * Puts back the statuses of users this instance holds sockets of, after
 * Redis lost its state: each user missing from the presence hash gets the
 * given status (ONLINE, or IDLE for one known AWAY) and activity now, as a
 * numbered change (the other instances, which may have read the empty hash,
 * learn it back). A user present already (put back by another instance, or
 * connected since) is left as it is.
 * KEYS: presence, activity, presenceSeq. ARGV: now, then userId, stored status pairs.
 * Returns [userId, status, number of the change, ...].
 */
export const restorePresence: AtomicScript<(string | number)[]> = {
  lua: `${luaCounter}
    local changes = {}
    for i = 2, #ARGV, 2 do
      local user, status = ARGV[i], ARGV[i + 1]
      if redis.call('HSETNX', KEYS[1], user, status) == 1 then
        redis.call('HSET', KEYS[2], user, ARGV[1])
        table.insert(changes, user)
        table.insert(changes, status == 'IDLE' and 'AWAY' or status)
        table.insert(changes, redis.call('INCR', counter(KEYS[3])))
      end
    end
    return changes`,
  local(store, [presence, activity, seq], [now, ...pairs]) {
    const changes: (string | number)[] = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const [user, status] = [pairs[i]!, pairs[i + 1]!];
      if (store.hget(presence!, user) !== null) continue;
      store.hset(presence!, user, status);
      store.hset(activity!, user, now!);
      changes.push(user, reported(status), store.incr(counter(store, seq!)));
    }
    return changes;
  },
};

export { reported as reportedStatus };
