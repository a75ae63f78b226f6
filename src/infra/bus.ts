/**
 * The event bus: what one instance tells every instance (itself included).
 * Redis pub/sub (graphql-redis-subscriptions on ioredis) when REDIS_URL is
 * set, else an in-process bus. Messages are JSON in both, so a listener sees
 * the same shapes (dates as ISO strings) whichever runs.
 */
import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';

export type Listener<T> = (message: T) => void;

export interface Bus {
  /** Sends `message` to every listener of `channel` on every instance. */
  publish<T>(channel: string, message: T): Promise<void>;
  /** Listens to `channel`; resolves once listening, to a function that stops it. */
  subscribe<T>(channel: string, listener: Listener<T>): Promise<() => void>;
  /**
   * Calls `listener` each time the bus is back after an outage (listening
   * again): what was published meanwhile is lost, so state kept from the
   * bus should be read again. Returns a function that stops it.
   */
  onResume(listener: () => void): () => void;
  /** False while the bus is cut off: what is published meanwhile does not reach this instance. */
  readonly listening: boolean;
  close(): Promise<void>;
}

class PubSubEngineBus implements Bus {
  private readonly resumeListeners = new Set<() => void>();

  constructor(
    private readonly engine: PubSubEngine,
    private readonly roundTrip: boolean,
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

  publish<T>(channel: string, message: T): Promise<void> {
    return this.engine.publish(channel, this.roundTrip ? JSON.parse(JSON.stringify(message)) : message);
  }

  async subscribe<T>(channel: string, listener: Listener<T>): Promise<() => void> {
    const id = await this.engine.subscribe(channel, listener, {});
    return () => this.engine.unsubscribe(id);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

export function createMemoryBus(): Bus {
  return new PubSubEngineBus(new PubSub(), true, () => true);
}

/**
 * `publisher` is shared with other users; `subscriber` (already ready)
 * becomes this bus's own subscriber-mode connection. After an outage
 * ioredis sends the SUBSCRIBE of every channel as the connection becomes
 * ready; Redis answers in order, so the answer to a PING sent after them
 * says they are all in effect: only then is the bus listening again, and
 * only then does what is kept from it get read again.
 */
export function createRedisBus(publisher: Redis, subscriber: Redis): Bus {
  const engine = new RedisPubSub({ publisher, subscriber });
  let listening = true;
  const bus = new PubSubEngineBus(
    engine,
    false,
    () => listening,
    async () => {
      subscriber.disconnect();
    },
  );
  subscriber.on('close', () => (listening = false));
  subscriber.on('ready', () => {
    subscriber.ping().then(
      () => {
        if (subscriber.status !== 'ready' || listening) return;
        listening = true;
        bus.resumed();
      },
      // Cut off again: the next 'ready' tries again.
      () => {},
    );
  });
  return bus;
}
