/**
 * The event bus: what one instance tells every instance (itself included).
 * Redis pub/sub (graphql-redis-subscriptions on ioredis) when Redis is
 * configured, else an in-process bus. On a Redis Cluster, the channels of
 * one room or user go through sharded pub/sub ({@link isShardedChannel}). Messages are JSON in both, so a listener sees
 * the same shapes (dates as ISO strings) whichever runs.
 */
import { randomUUID } from 'node:crypto';
import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { EventEmitter } from 'node:events';
import { Cluster } from 'ioredis';
import { Channels, isShardedChannel } from '../core/codes.ts';
import { closeRedis, type RedisClient } from './redis.ts';

export type Listener<T> = (message: T) => void;

export interface PublishOptions {
  /**
   * Only the other instances need it: this one has handled it already (a
   * message its sender delivered here at once). Its own copy is dropped
   * before it is decoded.
   * @default false
   */
  elsewhere?: boolean;
  /**
   * Called once Redis has taken an `elsewhere` message, with how many
   * subscriber connections it went to, this instance's own included (a
   * sharded channel counts those of its shard, all there are). Not called
   * where no count is to be had: the in-process bus publishes nothing, and a
   * plain channel on a Cluster counts one node's listeners only.
   * @default undefined
   */
  receivers?: (count: number) => void;
}

export interface Bus {
  /** Sends `message` to every listener of `channel` on every instance (but this one, with `elsewhere`). */
  publish<T>(channel: string, message: T, options?: PublishOptions): Promise<void>;
  /** Listens to `channel`; resolves once listening, to a function that stops it. */
  subscribe<T>(channel: string, listener: Listener<T>): Promise<() => void>;
  /**
   * Calls `listener` each time the bus is back after an outage (listening
   * again), and each time an instance says it gave up publishing something
   * (`Channels.reread`, adapters/outbox.ts): what was published meanwhile, or
   * never, is lost, so state kept from the bus should be read again.
   * Returns a function that stops it.
   */
  onResume(listener: () => void): () => void;
  /** False while the bus is cut off: what is published meanwhile does not reach this instance. */
  readonly listening: boolean;
  close(): Promise<void>;
}

/** What an engine hands a listener in place of this instance's own copy of an `elsewhere` message. */
const ownCopy = Symbol('own copy');

/** A message for the other instances only, as the engine is given it. */
class Elsewhere {
  constructor(readonly message: unknown) {}
}

class PubSubEngineBus implements Bus {
  private readonly resumeListeners = new Set<() => void>();

  /**
   * `publishElsewhere` sends an {@link PublishOptions.elsewhere} message and
   * resolves to its receivers where they can be counted; without it the bus
   * (one process, the only instance) drops such messages.
   */
  constructor(
    private readonly engine: PubSubEngine,
    private readonly roundTrip: boolean,
    private readonly publishElsewhere: ((channel: string, message: unknown) => Promise<number | undefined>) | undefined,
    private readonly isListening: () => boolean,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  get listening(): boolean {
    return this.isListening();
  }

  /** The bus is listening again after an outage. */
  resumed(): void {
    for (const listener of this.resumeListeners) listener();
  }

  onResume(listener: () => void): () => void {
    this.resumeListeners.add(listener);
    return () => this.resumeListeners.delete(listener);
  }

  publish<T>(channel: string, message: T, options: PublishOptions = {}): Promise<void> {
    if (options.elsewhere) {
      if (!this.publishElsewhere) return Promise.resolve();
      return this.publishElsewhere(channel, message).then((count) => void (count !== undefined && options.receivers?.(count)));
    }
    return this.engine.publish(channel, this.roundTrip ? JSON.parse(JSON.stringify(message)) : message);
  }

  async subscribe<T>(channel: string, listener: Listener<T>): Promise<() => void> {
    const id = await this.engine.subscribe(channel, (message: T | typeof ownCopy) => message !== ownCopy && listener(message), {});
    return () => this.engine.unsubscribe(id);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

export function createMemoryBus(): Bus {
  return new PubSubEngineBus(new PubSub(), true, undefined, () => true);
}

/**
 * An `elsewhere` message goes out as `#<sender>#<json>` (JSON never starts
 * with `#`), so that its sender drops its own copy by comparing those bytes,
 * without turning the rest into a string or parsing it.
 */
function elsewhereCodec() {
  const tag = Buffer.from(`#${randomUUID()}#`);
  const prefixed = 0x23; // '#'
  return {
    serializer: (payload: unknown) => (payload instanceof Elsewhere ? `${tag}${JSON.stringify(payload.message)}` : JSON.stringify(payload)),
    // graphql-redis-subscriptions hands every message over as a Buffer; its type also allows a string.
    deserializer: (source: string | Buffer) => {
      const raw = typeof source === 'string' ? Buffer.from(source) : source;
      if (raw[0] !== prefixed) return JSON.parse(raw.toString()) as unknown;
      if (tag.compare(raw, 0, tag.length) === 0) return ownCopy;
      return JSON.parse(raw.toString('utf8', tag.length)) as unknown;
    },
  };
}

/** Re-reads asked by other instances come at most this often (the first at once). */
const rereadGapMs = 5000;

/**
 * What graphql-redis-subscriptions needs of its publisher and subscriber
 * (it has no sharded pub/sub), over Cluster clients: a sharded channel is
 * published with SPUBLISH and listened to with SSUBSCRIBE (ioredis routes
 * both to the shard that owns the channel, one subscriber connection per
 * primary), the others with PUBLISH and SUBSCRIBE; messages of both kinds
 * reach the engine as one event.
 */
function clusterPubSub(publisher: Cluster, subscriber: Cluster) {
  const events = new EventEmitter();
  for (const [from, to] of [
    ['messageBuffer', 'messageBuffer'],
    ['smessageBuffer', 'messageBuffer'],
  ] as const) {
    subscriber.on(from, (channel: Buffer, message: Buffer) => events.emit(to, channel, message));
  }
  const facade = {
    publish: (channel: string, message: string) => (isShardedChannel(channel) ? publisher.spublish(channel, message) : publisher.publish(channel, message)),
    on: (event: string, listener: (...args: any[]) => void) => events.on(event, listener),
    subscribe: (channel: string, done: (error?: Error | null) => void) =>
      (isShardedChannel(channel) ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel)).then(() => done(null), done),
    unsubscribe: (channel: string) => (isShardedChannel(channel) ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel)).catch(() => {}),
    // The bus never subscribes to patterns; the engine unsubscribes from them all the same.
    punsubscribe: () => Promise.resolve(),
    psubscribe: () => Promise.reject(new Error('no pattern subscriptions on a Redis Cluster bus')),
  };
  // The engine's types ask for ioredis clients; it uses only the methods above.
  return { publisher: facade as unknown as RedisClient, subscriber: facade as unknown as RedisClient };
}

const isCluster = (client: RedisClient): client is Cluster => client instanceof Cluster;

/**
 * `publisher` is shared with other users; `subscriber` (already ready)
 * becomes this bus's own subscriber-mode connection. After an outage
 * ioredis sends the SUBSCRIBE of every channel as the connection becomes
 * ready; Redis answers in order, so the answer to a PING sent after them
 * says they are all in effect: only then is the bus listening again, and
 * only then does what is kept from it get read again. On a Cluster, the
 * loss of a node or of a subscriber connection counts as an outage, and
 * the bus listens again once ioredis has subscribed anew.
 */
export function createRedisBus(publisher: RedisClient, subscriber: RedisClient): Bus {
  // Messages as Buffers: ioredis then decodes no string the codec does not need.
  const clients = isCluster(publisher) && isCluster(subscriber) ? clusterPubSub(publisher, subscriber) : { publisher, subscriber };
  const codec = elsewhereCodec();
  const engine = new RedisPubSub({ ...(clients as { publisher: any; subscriber: any }), messageEventName: 'messageBuffer', ...codec });
  // Straight to the publisher, not through the engine, which drops Redis's count of receivers.
  const countable = isCluster(publisher) ? isShardedChannel : () => true;
  const publishElsewhere = async (channel: string, message: unknown) => {
    const count: unknown = await clients.publisher.publish(channel, codec.serializer(new Elsewhere(message)));
    return countable(channel) && typeof count === 'number' ? count : undefined;
  };
  let listening = true;
  let lastReread = 0;
  let rereadLater: NodeJS.Timeout | undefined;
  const bus = new PubSubEngineBus(
    engine,
    false,
    publishElsewhere,
    () => listening,
    async () => {
      clearTimeout(rereadLater);
      closeRedis(subscriber);
    },
  );
  const reread = () => {
    lastReread = Date.now();
    bus.resumed();
  };
  // An instance whose own link to Redis was down gave up a change the others then never heard. After an
  // outage of the whole cluster every instance asks, their requests spread over the outbox's retries: a
  // re-read begun after a request answers it, so one per rereadGapMs answers them all.
  void engine.subscribe(
    Channels.reread,
    () => {
      if (rereadLater) return;
      rereadLater = setTimeout(() => {
        rereadLater = undefined;
        reread();
      }, Math.max(0, lastReread + rereadGapMs - Date.now()));
      rereadLater.unref();
    },
    {},
  );
  const cut = () => (listening = false);
  const back = () => {
    subscriber.ping().then(
      () => {
        if (subscriber.status !== 'ready' || listening) return;
        listening = true;
        reread();
      },
      // Cut off again: the next 'ready' tries again.
      () => {},
    );
  };
  subscriber.on('close', cut);
  subscriber.on('ready', back);
  if (isCluster(subscriber)) {
    for (const event of ['-node', '-subscriber', 'node error']) subscriber.on(event, cut);
    for (const event of ['+subscriber', 'subscribersReady']) subscriber.on(event, back);
  }
  return bus;
}
