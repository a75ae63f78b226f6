/**
 * One suite, both implementations of the Bus; then two Redis buses (one per
 * instance) and `elsewhere` messages; then the Redis bus across two
 * processes: a publish in one is received in the other, both ways.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBus, createRedisBus, type Bus } from '../../src/adapters/bus.ts';
import { waitUntilReady } from '../../src/adapters/redis.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { eventually } from '../helpers/server.ts';

const buses: Bus[] = [];
const redisClients: Redis[] = [];
/**
 * A Redis bus, its subscriber ready first as createRedisBus asks: a SUBSCRIBE sent
 * before ioredis's ready check put the connection in subscriber mode, and the check's
 * INFO then failed ("Connection in subscriber mode").
 */
async function redisBus(): Promise<Bus> {
  const publisher = new Redis(testRedisUrl);
  const subscriber = new Redis(testRedisUrl);
  redisClients.push(publisher);
  if (!(await waitUntilReady(subscriber))) throw new Error('the subscriber connection did not become ready');
  const bus = createRedisBus(publisher, subscriber);
  buses.push(bus);
  return bus;
}
afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  redisClients.forEach((r) => r.disconnect());
});

describe.each([
  ['memory', () => createMemoryBus()],
  ['redis', redisBus],
] as [string, () => Bus | Promise<Bus>][])('Bus (%s)', (_name, make) => {
  let bus: Bus;
  beforeAll(async () => {
    bus = await make();
  });

  it('delivers JSON to every listener of a channel, and only that channel', async () => {
    const channel = `test:${randomUUID()}`;
    const a: unknown[] = [];
    const b: unknown[] = [];
    const other: unknown[] = [];
    await bus.subscribe(channel, (m) => a.push(m));
    await bus.subscribe(channel, (m) => b.push(m));
    await bus.subscribe(`${channel}:other`, (m) => other.push(m));
    const at = new Date('2026-01-02T03:04:05.000Z');
    await bus.publish(channel, { n: 1, at });
    await eventually(() => a.length === 1 && b.length === 1, 2000, 'delivery');
    // Dates cross as ISO strings in both implementations.
    expect(a[0]).toEqual({ n: 1, at: '2026-01-02T03:04:05.000Z' });
    expect(b[0]).toEqual(a[0]);
    expect(other).toEqual([]);
  });

  it('stops delivering after unsubscribe', async () => {
    const channel = `test:${randomUUID()}`;
    const seen: unknown[] = [];
    const stop = await bus.subscribe(channel, (m) => seen.push(m));
    await bus.publish(channel, 1);
    await eventually(() => seen.length === 1, 2000, 'first delivery');
    const barrier: unknown[] = [];
    await bus.subscribe(`${channel}:barrier`, (m) => barrier.push(m));
    stop();
    await bus.publish(channel, 2);
    // Published after on the same bus, so heard after the 2 would have been.
    await bus.publish(`${channel}:barrier`, 3);
    await eventually(() => barrier.length === 1, 2000, 'the barrier message');
    expect(seen).toEqual([1]);
  });

  it("hands its sender's listeners nothing of an `elsewhere` message", async () => {
    const channel = `test:${randomUUID()}`;
    const seen: unknown[] = [];
    await bus.subscribe(channel, (m) => seen.push(m));
    await bus.publish(channel, { n: 1 }, { elsewhere: true });
    await bus.publish(channel, { n: 2 });
    // The plain message, published after, is the barrier: the other would have come first.
    await eventually(() => seen.some((m) => (m as { n: number }).n === 2), 2000, 'the plain message');
    expect(seen).toEqual([{ n: 2 }]);
  });
});

describe('Redis bus, two instances', () => {
  it('an `elsewhere` message reaches the other instance in order with the rest, and not its sender', async () => {
    const [sender, other] = await Promise.all([redisBus(), redisBus()]);
    const channel = `test:${randomUUID()}`;
    const bySender: unknown[] = [];
    const byOther: unknown[] = [];
    await sender.subscribe(channel, (m) => bySender.push(m));
    await other.subscribe(channel, (m) => byOther.push(m));
    await sender.publish(channel, { n: 1, text: '#not a tag' });
    await sender.publish(channel, { n: 2, text: 'é' }, { elsewhere: true });
    await other.publish(channel, { n: 3 }, { elsewhere: true });
    await sender.publish(channel, '#4');
    await eventually(() => byOther.length === 3 && bySender.length === 3, 2000, 'delivery');
    expect(byOther).toEqual([{ n: 1, text: '#not a tag' }, { n: 2, text: 'é' }, '#4']);
    expect(bySender).toEqual([{ n: 1, text: '#not a tag' }, { n: 3 }, '#4']);
  });
});

describe('Redis bus across processes', () => {
  it('carries messages both ways between two processes', async () => {
    const inbound = `test:${randomUUID()}:to-peer`;
    const outbound = `test:${randomUUID()}:from-peer`;
    const peer = spawn(process.execPath, ['--import', 'tsx', 'test/infra/fixtures/bus-peer.ts', testRedisUrl, inbound, outbound], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    createInterface({ input: peer.stdout! }).on('line', (l) => lines.push(l));
    try {
      const bus = await redisBus();
      const fromPeer: unknown[] = [];
      await bus.subscribe(outbound, (m) => fromPeer.push(m));
      await eventually(() => lines.includes('ready'), 15_000, 'peer ready');
      await bus.publish(inbound, { hello: 'peer' });
      await eventually(() => fromPeer.length === 1, 5000, 'echo from the peer');
      expect(fromPeer[0]).toEqual({ echo: { hello: 'peer' }, pid: peer.pid });
      expect(lines).toContain('received {"hello":"peer"}');
    } finally {
      peer.kill();
    }
  });
});
