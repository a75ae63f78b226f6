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
  close(): Promise<void>;
}

class PubSubEngineBus implements Bus {
  private readonly resumeListeners = new Set<() => void>();

  constructor(
    private readonly engine: PubSubEngine,
    private readonly roundTrip: boolean,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

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
  return new PubSubEngineBus(new PubSub(), true);
}

/**
 * `publisher` is shared with other users; `subscriber` (already ready)
 * becomes this bus's own subscriber-mode connection. ioredis subscribes its
 * channels again on reconnect, before it says it is ready.
 */
export function createRedisBus(publisher: Redis, subscriber: Redis): Bus {
  const engine = new RedisPubSub({ publisher, subscriber });
  const bus = new PubSubEngineBus(engine, false, async () => {
    subscriber.disconnect();
  });
  subscriber.on('ready', () => bus.resumed());
  return bus;
}
