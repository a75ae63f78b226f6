/**
 * Shared state: counters, hashes, sorted sets and keys with a TTL, plus
 * atomic scripts. Redis when one is configured (scripts run as Lua), else an
 * in-process store (scripts run as their JavaScript twin, atomic because
 * they are synchronous). Each script is written once per implementation,
 * side by side, so the two cannot drift apart unnoticed: the shared test
 * suite runs both.
 */
import { createHash } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { closeRedis, type RedisClient } from './redis.ts';

/** An atomic step over shared state, in Lua for Redis and in JavaScript for the in-process store. */
export interface AtomicScript<T> {
  lua: string;
  local(store: MemoryStore, keys: string[], args: string[]): T;
}

export interface SharedState {
  readonly kind: 'redis' | 'memory';
  run<T>(script: AtomicScript<T>, keys: string[], args: (string | number)[]): Promise<T>;
  get(key: string): Promise<string | null>;
  /** Sets `key`; with `ttlSeconds` it expires. */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Sets `key` only when it does not exist; true when it was set. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  del(key: string): Promise<void>;
  incr(key: string, ttlSeconds?: number): Promise<number>;
  /** Every key starting with `prefix` (bounded by what exists; use for small sets such as live revocations). */
  keysWithPrefix(prefix: string): Promise<string[]>;
  hset(key: string, field: string, value: string): Promise<void>;
  hget(key: string, field: string): Promise<string | null>;
  hdel(key: string, field: string): Promise<void>;
  hgetall(key: string): Promise<Record<string, string>>;
  zadd(key: string, score: number, member: string): Promise<void>;
  zrem(key: string, member: string): Promise<void>;
  /** Members with min <= score <= max, lowest score first. */
  zrangeByScore(key: string, min: number, max: number): Promise<string[]>;
  zcount(key: string, min: number, max: number): Promise<number>;
  ping(): Promise<boolean>;
  /**
   * Calls `listener` each time the connection is ready again after it was lost: Redis may have restarted empty
   * (slots/recovery.ts checks). Never for the in-process store. Returns a function that stops it.
   */
  onReconnect(listener: () => void): () => void;
  close(): Promise<void>;
}

type Entry =
  | { type: 'string'; value: string; expiresAt?: number }
  | { type: 'hash'; value: Map<string, string>; expiresAt?: number }
  | { type: 'zset'; value: Map<string, number>; expiresAt?: number };

/** The in-process store. Its methods are synchronous, so a script's body is atomic. */
export class MemoryStore {
  private readonly entries = new Map<string, Entry>();

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private typed<T extends Entry['type']>(key: string, type: T, create: boolean): Extract<Entry, { type: T }> | undefined {
    const entry = this.live(key);
    if (entry) {
      if (entry.type !== type) throw new Error(`WRONGTYPE ${key} holds a ${entry.type}`);
      return entry as Extract<Entry, { type: T }>;
    }
    if (!create) return undefined;
    const fresh = { type, value: type === 'string' ? '' : new Map() } as Extract<Entry, { type: T }>;
    this.entries.set(key, fresh);
    return fresh;
  }

  /** Drops a container that became empty, as Redis does. */
  private tidy(key: string): void {
    const entry = this.entries.get(key);
    if (entry && entry.type !== 'string' && entry.value.size === 0) this.entries.delete(key);
  }

  get(key: string): string | null {
    return this.typed(key, 'string', false)?.value ?? null;
  }
  set(key: string, value: string, ttlSeconds?: number): void {
    this.entries.set(key, { type: 'string', value, expiresAt: ttlSeconds === undefined ? undefined : Date.now() + ttlSeconds * 1000 });
  }
  exists(key: string): boolean {
    return this.live(key) !== undefined;
  }
  del(key: string): void {
    this.entries.delete(key);
  }
  /** Like PTTL: ms until `key` expires, -1 when it does not, -2 when it does not exist. */
  pttl(key: string): number {
    const entry = this.live(key);
    if (!entry) return -2;
    return entry.expiresAt === undefined ? -1 : entry.expiresAt - Date.now();
  }
  expire(key: string, ttlSeconds: number): void {
    const entry = this.live(key);
    if (entry) entry.expiresAt = Date.now() + ttlSeconds * 1000;
  }
  incr(key: string, by = 1): number {
    const entry = this.live(key);
    const next = (entry ? Number(this.get(key)) : 0) + by;
    this.entries.set(key, { type: 'string', value: String(next), expiresAt: entry?.expiresAt });
    return next;
  }
  keys(prefix: string): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix) && this.live(k) !== undefined);
  }
  hset(key: string, field: string, value: string): void {
    this.typed(key, 'hash', true)!.value.set(field, value);
  }
  hget(key: string, field: string): string | null {
    return this.typed(key, 'hash', false)?.value.get(field) ?? null;
  }
  hdel(key: string, field: string): number {
    const removed = this.typed(key, 'hash', false)?.value.delete(field) ? 1 : 0;
    this.tidy(key);
    return removed;
  }
  hgetall(key: string): Record<string, string> {
    return Object.fromEntries(this.typed(key, 'hash', false)?.value ?? []);
  }
  /** Like ZADD; with `mode` 'xx' only updates existing members, 'gt' only raises scores. */
  zadd(key: string, score: number, member: string, mode?: 'xx' | 'gt'): void {
    const zset = this.typed(key, 'zset', mode !== 'xx')?.value;
    if (!zset) return;
    const current = zset.get(member);
    if (mode === 'xx' && current === undefined) return;
    if (mode === 'gt' && current !== undefined && current >= score) return;
    zset.set(member, score);
  }
  zrem(key: string, member: string): number {
    const removed = this.typed(key, 'zset', false)?.value.delete(member) ? 1 : 0;
    this.tidy(key);
    return removed;
  }
  zscore(key: string, member: string): number | null {
    return this.typed(key, 'zset', false)?.value.get(member) ?? null;
  }
  zcard(key: string): number {
    return this.typed(key, 'zset', false)?.value.size ?? 0;
  }
  zrangeByScore(key: string, min: number, max: number): string[] {
    const zset = this.typed(key, 'zset', false)?.value;
    if (!zset) return [];
    return [...zset].filter(([, s]) => s >= min && s <= max).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([m]) => m);
  }
  zcount(key: string, min: number, max: number): number {
    return this.zrangeByScore(key, min, max).length;
  }
  zremRangeByScore(key: string, min: number, max: number): number {
    const members = this.zrangeByScore(key, min, max);
    for (const m of members) this.zrem(key, m);
    return members.length;
  }
}

class MemoryState implements SharedState {
  readonly kind = 'memory' as const;
  readonly store = new MemoryStore();

  async run<T>(script: AtomicScript<T>, keys: string[], args: (string | number)[]): Promise<T> {
    return script.local(this.store, keys, args.map(String));
  }
  async get(key: string) {
    return this.store.get(key);
  }
  async set(key: string, value: string, ttlSeconds?: number) {
    this.store.set(key, value, ttlSeconds);
  }
  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    if (this.store.exists(key)) return false;
    this.store.set(key, value, ttlSeconds);
    return true;
  }
  async del(key: string) {
    this.store.del(key);
  }
  async incr(key: string, ttlSeconds?: number) {
    const value = this.store.incr(key);
    if (value === 1 && ttlSeconds !== undefined) this.store.expire(key, ttlSeconds);
    return value;
  }
  async keysWithPrefix(prefix: string) {
    return this.store.keys(prefix);
  }
  async hset(key: string, field: string, value: string) {
    this.store.hset(key, field, value);
  }
  async hget(key: string, field: string) {
    return this.store.hget(key, field);
  }
  async hdel(key: string, field: string) {
    this.store.hdel(key, field);
  }
  async hgetall(key: string) {
    return this.store.hgetall(key);
  }
  async zadd(key: string, score: number, member: string) {
    this.store.zadd(key, score, member);
  }
  async zrem(key: string, member: string) {
    this.store.zrem(key, member);
  }
  async zrangeByScore(key: string, min: number, max: number) {
    return this.store.zrangeByScore(key, min, max);
  }
  async zcount(key: string, min: number, max: number) {
    return this.store.zcount(key, min, max);
  }
  async ping() {
    return true;
  }
  onReconnect() {
    return () => {};
  }
  async close() {}
}

const redisScore = (n: number) => (n === Infinity ? '+inf' : n === -Infinity ? '-inf' : String(n));

class RedisState implements SharedState {
  readonly kind = 'redis' as const;
  private readonly shas = new WeakMap<AtomicScript<unknown>, string>();

  constructor(private readonly redis: RedisClient) {}

  /**
   * By hash; a node that does not know the script yet (a new node, a
   * restarted one, another Cluster shard) gets it with an EVAL, which keeps
   * it for the next time.
   */
  async run<T>(script: AtomicScript<T>, keys: string[], args: (string | number)[]): Promise<T> {
    let sha = this.shas.get(script);
    if (!sha) this.shas.set(script, (sha = createHash('sha1').update(script.lua).digest('hex')));
    try {
      return (await this.redis.evalsha(sha, keys.length, ...keys, ...args)) as T;
    } catch (error) {
      if (!String(error).includes('NOSCRIPT')) throw error;
    }
    return (await this.redis.eval(script.lua, keys.length, ...keys, ...args)) as T;
  }
  async get(key: string) {
    return this.redis.get(key);
  }
  async set(key: string, value: string, ttlSeconds?: number) {
    if (ttlSeconds === undefined) await this.redis.set(key, value);
    else await this.redis.set(key, value, 'PX', Math.ceil(ttlSeconds * 1000));
  }
  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    return (await this.redis.set(key, value, 'PX', Math.ceil(ttlSeconds * 1000), 'NX')) === 'OK';
  }
  async del(key: string) {
    await this.redis.del(key);
  }
  async incr(key: string, ttlSeconds?: number) {
    if (ttlSeconds === undefined) return this.redis.incr(key);
    const [[, value]] = (await this.redis.multi().incr(key).pexpire(key, Math.ceil(ttlSeconds * 1000), 'NX').exec()) as [[null, number]];
    return value;
  }
  /** On a Cluster, the keys are spread over its primaries: each is scanned. */
  async keysWithPrefix(prefix: string) {
    const found: string[] = [];
    const nodes: Redis[] = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
        found.push(...batch);
        cursor = next;
      } while (cursor !== '0');
    }
    return [...new Set(found)];
  }
  async hset(key: string, field: string, value: string) {
    await this.redis.hset(key, field, value);
  }
  async hget(key: string, field: string) {
    return this.redis.hget(key, field);
  }
  async hdel(key: string, field: string) {
    await this.redis.hdel(key, field);
  }
  async hgetall(key: string) {
    return this.redis.hgetall(key);
  }
  async zadd(key: string, score: number, member: string) {
    await this.redis.zadd(key, score, member);
  }
  async zrem(key: string, member: string) {
    await this.redis.zrem(key, member);
  }
  async zrangeByScore(key: string, min: number, max: number) {
    return this.redis.zrangebyscore(key, redisScore(min), redisScore(max));
  }
  async zcount(key: string, min: number, max: number) {
    return this.redis.zcount(key, redisScore(min), redisScore(max));
  }
  async ping() {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
  onReconnect(listener: () => void) {
    let lost = false;
    const onLost = () => void (lost = true);
    const onReady = () => {
      if (!lost) return;
      lost = false;
      listener();
    };
    this.redis.on('close', onLost).on('ready', onReady);
    return () => void this.redis.off('close', onLost).off('ready', onReady);
  }
  async close() {
    closeRedis(this.redis);
  }
}

export const createMemoryState = (): SharedState => new MemoryState();
export const createRedisState = (redis: RedisClient): SharedState => new RedisState(redis);
