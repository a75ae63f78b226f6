/**
 * The outbox on a real Redis bus whose publishing connection runs through a
 * proxy that can cut it off: a publish that fails is tried again, what is
 * given to its channel meanwhile waits behind it, and listeners hear every
 * message once and in order; a channel with nothing failed is not held up;
 * a message too old is given up, unless its sender gave it a longer life;
 * once one is given up, every instance (this one too) is asked to re-read
 * what it keeps, once, when Redis answers again; an instance asked many
 * times together re-reads at once and once more after a gap, not each time.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisBus, type Bus } from '../../src/adapters/bus.ts';
import { Channels } from '../../src/core/codes.ts';
import { createOutbox } from '../../src/adapters/outbox.ts';
import { createRedis, waitUntilReady } from '../../src/adapters/redis.ts';
import { privateRedisForSuite } from '../helpers/redis-server.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';
import { eventually } from '../helpers/server.ts';
import { startTcpProxy, type ProxiedConnection, type TcpProxy } from '../helpers/tcp-proxy.ts';

const redisUrl = privateRedisForSuite();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Publishes a message of its own on `bus` and waits until every bus in `listeners` has heard it.
 * Redis hands one subscriber connection what one connection published in the order it was
 * published: whatever `bus` published before has reached them all by then.
 */
async function barrier(bus: Bus, listeners: Bus[] = [bus]): Promise<void> {
  const channel = `test:barrier:${randomUUID()}`;
  let heard = 0;
  const stops = await Promise.all(listeners.map((listener) => listener.subscribe(channel, () => heard++)));
  await bus.publish(channel, 'barrier');
  await eventually(() => heard === listeners.length, 5000, 'the barrier message');
  for (const stop of stops) stop();
}

/** A Redis bus whose publisher (commands) connection can be cut off; its subscriber stays connected. */
async function busWithCuttablePublisher() {
  const connections = new Set<ProxiedConnection>();
  const link: TcpProxy = await startTcpProxy(redisUrl(), { watch: (connection) => (connections.add(connection), () => {}) });
  const logger = recordingLogger();
  const publisher = createRedis(link.via(redisUrl()), 'commands', logger.asLogger());
  const subscriber = createRedis(redisUrl(), 'subscriber', logger.asLogger());
  await Promise.all([waitUntilReady(publisher), waitUntilReady(subscriber)]);
  const bus: Bus = createRedisBus(publisher, subscriber);
  cleanups.push(() => link.stop(), () => publisher.disconnect(), () => bus.close());
  return {
    bus,
    logger,
    /** A fresh channel listened to on the bus, and what it has heard. */
    async listenedChannel<T>() {
      const channel = `test:${randomUUID()}`;
      const heard: T[] = [];
      await bus.subscribe<T>(channel, (message) => heard.push(message));
      return { channel, heard };
    },
    async cutOff() {
      link.pause();
      for (const connection of connections) connection.drop();
      connections.clear();
      await eventually(() => publisher.status !== 'ready', 5000, 'the publisher to notice');
    },
    async reconnect() {
      await link.start();
      await eventually(() => publisher.status === 'ready', 5000, 'the publisher to be back');
    },
  };
}

/** A Redis bus (another instance's) with nothing cut. */
function plainBus(logger: ReturnType<typeof recordingLogger>): Bus {
  const bus = createRedisBus(createRedis(redisUrl(), 'commands', logger.asLogger()), createRedis(redisUrl(), 'subscriber', logger.asLogger()));
  cleanups.push(() => bus.close());
  return bus;
}

describe('outbox', () => {
  it('holds what is given to a channel behind a failed publish: each heard once and in order once Redis answers; another channel goes at once', async () => {
    const { bus, logger, cutOff, reconnect } = await busWithCuttablePublisher();
    const outbox = createOutbox(bus, logger.asLogger());
    const [held, free] = [`test:${randomUUID()}`, `test:${randomUUID()}`];
    const heard: string[] = [];
    await bus.subscribe<number>(held, (n) => heard.push(`held ${n}`));
    await bus.subscribe<string>(free, (s) => heard.push(`free ${s}`));

    outbox.send(held, 0);
    await eventually(() => heard.length === 1, 2000, 'a publish while healthy');
    await cutOff();
    outbox.send(held, 1, { what: 'first' });
    // Tried at once and again at once; the next try is a second away.
    await eventually(() => logger.lines.filter((line) => line.message.includes('not published yet')).length === 2, 2000, 'two failed tries');
    expect(logger.lines.map((line) => line.fields)).toContainEqual(expect.objectContaining({ what: 'first', channel: held }));
    await reconnect();
    // Redis answers again before the retry: these would overtake the first were they not held behind it.
    outbox.send(held, 2);
    outbox.send(free, 'a');
    outbox.send(held, 3);
    await eventually(() => heard.length === 5, 10_000, 'every message');
    await outbox.drained();
    // A message heard twice would have come before this.
    await barrier(bus);
    expect(heard).toEqual(['held 0', 'free a', 'held 1', 'held 2', 'held 3']);
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
  }, 20_000);

  it('gives a message up once it is too old, logged as an error, and never sends it; the channel is free again', async () => {
    const { bus, logger, listenedChannel, cutOff, reconnect } = await busWithCuttablePublisher();
    const outbox = createOutbox(bus, logger.asLogger(), { giveUpAfterMs: 1500 });
    const { channel, heard } = await listenedChannel<number>();
    await cutOff();
    outbox.send(channel, 1, { what: 'lost' });
    await eventually(() => logger.lines.some((line) => line.level === 'error'), 5000, 'the give-up');
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ what: 'lost', channel }), message: expect.stringContaining('given up') }),
    ]);
    await reconnect();
    await outbox.drained();
    outbox.send(channel, 2);
    await eventually(() => heard.length === 1, 5000, 'the next message');
    await outbox.drained();
    // The lost message, sent after all, would have come before this.
    await barrier(bus);
    expect(heard).toEqual([2]);
  }, 20_000);

  it("keeps trying a message given a longer life past the outbox's own limit (an ended session), and sends it once Redis answers", async () => {
    const { bus, logger, listenedChannel, cutOff, reconnect } = await busWithCuttablePublisher();
    const outbox = createOutbox(bus, logger.asLogger(), { giveUpAfterMs: 1500 });
    const { channel, heard } = await listenedChannel<string>();
    await cutOff();
    outbox.send(channel, 'kept', {}, { giveUpAfterMs: 60_000 });
    // Clock: past the outbox's limit, after the tries at once and 1 s later: not given up.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(logger.lines.filter((line) => line.message.includes('not published yet')).length).toBeGreaterThanOrEqual(2);
    expect(logger.lines.filter((line) => line.level === 'error')).toEqual([]);
    await reconnect();
    await eventually(() => heard.length === 1, 10_000, 'the message, once Redis answers');
    expect(heard).toEqual(['kept']);
  }, 30_000);

  it('once it has given something up, asks every instance, itself included, to re-read what it keeps: once for several, when Redis answers again', async () => {
    const { bus, logger, listenedChannel, cutOff, reconnect } = await busWithCuttablePublisher();
    const outbox = createOutbox(bus, logger.asLogger(), { giveUpAfterMs: 1500 });
    const elsewhere = plainBus(logger);
    const rereads = { here: 0, elsewhere: 0 };
    bus.onResume(() => rereads.here++);
    elsewhere.onResume(() => rereads.elsewhere++);
    const [first, second] = [await listenedChannel<number>(), await listenedChannel<number>()];
    await cutOff();
    outbox.send(first.channel, 1);
    outbox.send(second.channel, 2);
    await eventually(() => logger.lines.filter((line) => line.message.includes('given up')).length === 2, 5000, 'both given up');
    // Nobody is asked while Redis does not answer this instance (its subscriber still listens): the request was tried, and failed.
    await eventually(() => logger.lines.some((line) => line.message.startsWith('could not ask the instances to re-read')), 5000, 'a failed request to re-read');
    expect(rereads).toEqual({ here: 0, elsewhere: 0 });
    await reconnect();
    await eventually(() => rereads.here === 1 && rereads.elsewhere === 1, 20_000, 'both instances asked to re-read');
    await outbox.drained();
    // A second request would reach both before this (its re-read then waits for the gap: bus.ts).
    await barrier(bus, [bus, elsewhere]);
    expect(rereads).toEqual({ here: 1, elsewhere: 1 });
    expect([...first.heard, ...second.heard]).toEqual([]);
  }, 40_000);

  it('asks nobody to re-read when nothing was given up', async () => {
    const { bus, logger, listenedChannel, cutOff, reconnect } = await busWithCuttablePublisher();
    const outbox = createOutbox(bus, logger.asLogger(), { giveUpAfterMs: 60_000 });
    let rereads = 0;
    bus.onResume(() => rereads++);
    const { channel, heard } = await listenedChannel<number>();
    await cutOff();
    outbox.send(channel, 1);
    await eventually(() => logger.lines.filter((line) => line.message.includes('not published yet')).length >= 2, 5000, 'two failed tries');
    await reconnect();
    await eventually(() => heard.length === 1, 10_000, 'the message, once Redis answers');
    await outbox.drained();
    // A request would reach the bus before this, and a first re-read follows it at once.
    await barrier(bus);
    expect(rereads).toBe(0);
  }, 30_000);
});

describe('requests to re-read', () => {
  it('coming together (a cluster-wide outage: every instance asks) are answered by one re-read at once, then at most one per gap, not one each', async () => {
    const logger = recordingLogger();
    const bus = plainBus(logger);
    let rereads = 0;
    bus.onResume(() => rereads++);
    // Listening once a message of its own comes back.
    const { channel, heard } = { channel: `test:${randomUUID()}`, heard: [] as number[] };
    await bus.subscribe<number>(channel, (n) => heard.push(n));
    await bus.publish(channel, 1);
    await eventually(() => heard.length === 1, 5000, 'the bus to listen');

    await bus.publish(Channels.reread, {});
    await eventually(() => rereads === 1, 5000, 'the first re-read, at once');
    // Two more soon after: one re-read, begun after both, once the gap since the first is over.
    for (let i = 0; i < 2; i++) await bus.publish(Channels.reread, {});
    // Clock: within the gap (5 s, bus.ts) nothing more is re-read.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(rereads).toBe(1);
    await eventually(() => rereads === 2, 10_000, 'one more re-read, after the gap');
    // Clock: the two requests are answered by that one; another would come only after a gap more.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(rereads).toBe(2);
  }, 30_000);
});
