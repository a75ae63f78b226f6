/**
 * Presence transitions, each atomic (Lua on Redis, JavaScript twin in
 * process) so that of many instances and sockets exactly one sees a change
 * and publishes it: one event per change.
 *
 * The presence hash holds ONLINE, AWAY (chosen by the user) or IDLE (away by
 * inactivity, reported as AWAY); a user missing from it is OFFLINE.
 */
import type { AtomicScript, MemoryStore } from '../infra/state.ts';

export type PresenceStatus = 'ONLINE' | 'AWAY' | 'OFFLINE';
type Stored = 'ONLINE' | 'AWAY' | 'IDLE';

/** What happened to a user: connected (first socket), disconnected (last socket), active, or set by the user. */
export type PresenceInput = 'connect' | 'disconnect' | 'active' | 'ONLINE' | 'AWAY';

const reported = (stored: string | null): PresenceStatus => (stored === null ? 'OFFLINE' : stored === 'IDLE' ? 'AWAY' : (stored as PresenceStatus));

/**
 * KEYS: presence, activity. ARGV: userId, input, now.
 * Returns [status now, status it changed to or ''].
 */
export const transition: AtomicScript<[PresenceStatus, PresenceStatus | '']> = {
  lua: `
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
    if before == after then return {after, ''} end
    return {after, after}`,
  local(store, [presence, activity], [user, input, now]) {
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
    return [after, reported(current) === after ? '' : after];
  },
};

/**
 * The periodic check: users whose seat is gone or whose lease runs out
 * before `aliveUntil` (their instance stopped renewing: heartbeat lost) go
 * OFFLINE; ONLINE users idle since before `awayBefore` go AWAY.
 * KEYS: presence, activity, seats. ARGV: aliveUntil, awayBefore.
 * Returns [userId, new status, ...].
 */
export const checkPresence: AtomicScript<string[]> = {
  lua: `
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
      elseif status == 'ONLINE' and tonumber(redis.call('HGET', KEYS[2], user) or '0') < tonumber(ARGV[2]) then
        redis.call('HSET', KEYS[1], user, 'IDLE')
        table.insert(changes, user)
        table.insert(changes, 'AWAY')
      end
    end
    return changes`,
  local(store: MemoryStore, [presence, activity, seats], [aliveUntil, awayBefore]) {
    const changes: string[] = [];
    for (const [user, status] of Object.entries(store.hgetall(presence!))) {
      const seat = store.zscore(seats!, user);
      if (seat === null || seat < Number(aliveUntil)) {
        store.hdel(presence!, user);
        store.hdel(activity!, user);
        changes.push(user, 'OFFLINE');
      } else if (status === 'ONLINE' && Number(store.hget(activity!, user) ?? '0') < Number(awayBefore)) {
        store.hset(presence!, user, 'IDLE');
        changes.push(user, 'AWAY');
      }
    }
    return changes;
  },
};

export { reported as reportedStatus };
