/**
 * The four scenarios, each bounded in count and time. They take running
 * servers and a protocol, and return figures; the runner prints them.
 */
import { performance } from 'node:perf_hooks';
import type { CpuTime, Measured } from '../lib/process.ts';
import type { Sample } from '../lib/probe.ts';
import type { Connection, Protocol } from './protocols.ts';

/** Runs `task` over `items` with at most `limit` at a time. */
export async function inPool<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Runs what it is given one at a time, in the order given. */
export type OneAtATime = <T>(work: () => Promise<T>) => Promise<T>;

export function oneAtATime(): OneAtATime {
  let last: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = last.then(work, work);
    last = run.catch(() => {});
    return run;
  };
}

export interface Audience {
  protocol: Protocol;
  servers: Measured[];
  room: string;
  /** One per socket, cycled (targets with auth). */
  tokens?: string[];
  publisherToken?: string;
  /**
   * Several rooms instead of `room` (the chat-like shape): subscriber i joins
   * room i mod n with that room's tokens, message seq goes to room seq mod n,
   * sent by a socket of its own with the room's first token.
   */
  rooms?: RoomSpec[];
}

/** A room of the chat-like shape and its members' tokens (targets with auth). */
export interface RoomSpec {
  id: string;
  tokens?: string[];
}

/** Opens `count` sockets spread over the servers, at most `concurrency` opening at once. */
export function openSockets(audience: Audience, count: number, offset = 0, concurrency = 100): Promise<Connection[]> {
  const { protocol, servers, tokens } = audience;
  return inPool(range(count), concurrency, (i) =>
    protocol.connect(servers[(offset + i) % servers.length]!.port, tokens?.[(offset + i) % tokens.length]),
  );
}

export interface StormFigures {
  connectsPerSecond: number;
  lagP99Ms: number;
}

/** Scenario 1 (sockets half): `count` authenticated sockets opened 100 at a time. */
export async function connectStorm(audience: Audience, count: number): Promise<StormFigures> {
  const server = audience.servers[0]!;
  await server.sample({ resetLag: true });
  const started = performance.now();
  const sockets = await openSockets(audience, count);
  const seconds = (performance.now() - started) / 1000;
  const { lagP99Ms } = await server.sample({ resetLag: true });
  for (const socket of sockets) socket.close();
  await sleep(500);
  return { connectsPerSecond: count / seconds, lagP99Ms };
}

export interface MemoryFigures {
  /** Socket count -> RSS growth per socket over the empty server, in KB (at small counts, allocator noise weighs). */
  kbPerSocket: Record<number, number>;
  /** RSS growth per socket from the first count to the last, in KB: both measured with sockets held, so less noisy. */
  kbPerAddedSocket: number;
  /** Socket count -> JavaScript heap growth per socket over the empty server, in KB: what the process's own objects hold. */
  heapKbPerSocket: Record<number, number>;
  /** The empty server's RSS before the sockets and after they closed, in MB: the lower is the RSS baseline (see idleMemory). */
  emptyRssMb: { before: number; after: number };
}

/**
 * A sample once the heap has settled after a burst (the setup, opening
 * sockets): V8 sizes its young generation by the allocation rate it saw over
 * the last seconds, measured at each collection, and gives the memory back
 * only at a collection some 5 s after the burst. Sampled once right after
 * it, the server before its sockets looked tens of MB larger than with them.
 */
async function settled(server: Measured): Promise<Sample> {
  let sample: Sample | undefined;
  for (let i = 0; i < 7; i++) {
    sample = await server.sample({ gc: true });
    await sleep(1000);
  }
  return sample!;
}

/**
 * How long after its start a server is left before the empty measurement.
 * Within some 20 s of the start, a server gives back memory of its own
 * accord (about 40 MB in ours, which loads the most modules, 10 MB in the
 * baselines), and no collection brings it forward. Under tsx this came
 * later (20 to 45 s) and was larger (100 MB in ours): its loader thread
 * holds a heap of its own; the servers now run compiled (lib/process.ts).
 */
const quietAfterStartSeconds = 30;

/**
 * The environment of the memory scenario's servers, every target alike: one
 * malloc arena, trimmed once 128 KB at its top are free. By default glibc
 * gives each thread that allocates an arena of its own and keeps what is
 * freed there until a later free in it happens to trim it; V8's compiler
 * threads leave tens of MB so (50 to 100 MB in ours, whose setup runs the
 * most code), given back at times tens of seconds later: a baseline taken
 * before that exceeded the server with 1,000 sockets, and the rows came out
 * negative, or inflated when it came before a loaded sample.
 */
export const memoryScenarioEnv = { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=131072' };

/**
 * Scenario 2: RSS growth per idle socket at each count, servers started
 * with {@link memoryScenarioEnv}. The empty server's RSS is measured before
 * the sockets and again after they closed, and the lower of the two is the
 * baseline (they agree within a few MB with that environment; without it
 * they differed by up to 80 MB). The growth from the first count to the
 * last, both with sockets held, needs no baseline. The JavaScript heap's
 * baseline is the one before: after a full collection it holds what is
 * live, and the closed sockets' objects are not.
 *
 * Several servers can be measured at once: while one holds its sockets
 * (inside `holding`, one server at a time: 5,000 sockets each would pass
 * the load client's file limit), the others wait out their empty samples.
 */
export async function idleMemory(audience: Audience, counts: number[], holding: OneAtATime): Promise<MemoryFigures> {
  const server = audience.servers[0]!;
  // Warm the code paths so that the empty measurement includes them.
  for (const socket of await openSockets(audience, 50)) socket.close();
  const { uptimeSeconds } = await server.sample();
  await sleep(Math.max(0, quietAfterStartSeconds - uptimeSeconds) * 1000);
  const before = await settled(server);
  const held = await holding(async () => {
    const sockets: Connection[] = [];
    const samples: Sample[] = [];
    for (const count of counts) {
      sockets.push(...(await openSockets(audience, count - sockets.length, sockets.length)));
      samples.push(await settled(server));
    }
    for (const socket of sockets) socket.close();
    return samples;
  });
  await sleep(1000);
  const after = await settled(server);
  const emptyRss = Math.min(before.rssBytes, after.rssBytes);
  const perSocketKb = (grown: number, count: number) => grown / count / 1024;
  return {
    kbPerSocket: Object.fromEntries(counts.map((count, i) => [count, perSocketKb(held[i]!.rssBytes - emptyRss, count)])),
    heapKbPerSocket: Object.fromEntries(counts.map((count, i) => [count, perSocketKb(held[i]!.heapUsedBytes - before.heapUsedBytes, count)])),
    kbPerAddedSocket: perSocketKb(held.at(-1)!.rssBytes - held[0]!.rssBytes, counts.at(-1)! - counts[0]!),
    emptyRssMb: { before: before.rssBytes / 2 ** 20, after: after.rssBytes / 2 ** 20 },
  };
}

/** CPU time so far of the services behind the servers (PostgreSQL's backends serving the bench database, Redis), in microseconds. */
export interface BackingCpu {
  postgresMicros: number;
  redisMicros: number;
}

let readBackingCpu: (() => Promise<BackingCpu>) | undefined;
/** Sets how fanOut reads {@link BackingCpu} (the runner knows the database and the Redis). */
export const measureBackingCpu = (read: () => Promise<BackingCpu>): void => void (readBackingCpu = read);

/** One step's figures: those from deliveries to latency over its measured window, losses and duplicates over the whole step. */
export interface StepFigures {
  offeredPerSecond: number;
  deliveriesPerSecond: number;
  /** Messages sent per second in the step (all rooms). */
  messagesPerSecond?: number;
  /** Server CPU time (all instances) per message sent in the measured window, in microseconds: what a stored message costs. */
  cpuMicrosPerMessage?: number;
  /** Server CPU time (all instances) per delivered message, in microseconds. */
  cpuMicrosPerDelivery: number;
  /** Of that, user time (JavaScript and libraries; the rest is the kernel's, mostly socket writes). */
  userMicrosPerDelivery: number;
  /** CPU of PostgreSQL's backends serving the bench database, and of Redis, per message sent in the window, in microseconds: work moved to them is still work. */
  postgresMicrosPerMessage?: number;
  redisMicrosPerMessage?: number;
  /** Server CPU use over the step, in cores. */
  serverCores: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  lost: number;
  duplicated: number;
  /** Sends the server refused in the step (overloaded, rate limited): not stored, not lost. */
  refused?: number;
  /** The highest latency in the step's settling time, before its measured window (in no figure above), in ms. */
  settlingMaxMs: number;
}

/** Steps of several rounds of one scenario, step by step: each figure's median, and every loss and duplicate summed. */
export function medianOfRounds(rounds: StepFigures[][]): StepFigures[] {
  const median = (values: number[]) => {
    const sorted = [...values].sort((x, y) => x - y);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const offered = [...new Set(rounds.flat().map((s) => s.offeredPerSecond))].sort((x, y) => x - y);
  return offered.map((offeredPerSecond) => {
    const steps = rounds.flatMap((round) => round.filter((s) => s.offeredPerSecond === offeredPerSecond));
    const of = (key: keyof StepFigures) => steps.map((s) => s[key] ?? Number.NaN);
    const sum = (key: 'lost' | 'duplicated' | 'refused') => of(key).reduce((total, n) => total + n, 0);
    return {
      offeredPerSecond,
      deliveriesPerSecond: median(of('deliveriesPerSecond')),
      messagesPerSecond: median(of('messagesPerSecond')),
      cpuMicrosPerMessage: median(of('cpuMicrosPerMessage')),
      postgresMicrosPerMessage: median(of('postgresMicrosPerMessage')),
      redisMicrosPerMessage: median(of('redisMicrosPerMessage')),
      cpuMicrosPerDelivery: median(of('cpuMicrosPerDelivery')),
      userMicrosPerDelivery: median(of('userMicrosPerDelivery')),
      serverCores: median(of('serverCores')),
      p50Ms: median(of('p50Ms')),
      p95Ms: median(of('p95Ms')),
      p99Ms: median(of('p99Ms')),
      maxMs: median(of('maxMs')),
      settlingMaxMs: median(of('settlingMaxMs')),
      lost: sum('lost'),
      duplicated: sum('duplicated'),
      refused: sum('refused'),
    };
  });
}

/** A step the target did not keep up with: something lost, under 90 % of the offered load delivered, or p99 over a second. */
export const saturated = (step: StepFigures): boolean => step.lost > 0 || step.deliveriesPerSecond < 0.9 * step.offeredPerSecond || step.p99Ms > 1000;

const bodyPadding = 'x'.repeat(80);
/** A body of the same length for every target, carrying its sequence number and send time. */
const bodyOf = (seq: number) => `b|${seq}|${performance.now().toFixed(3)}|${bodyPadding}`.slice(0, 100);

/**
 * How long each step runs at its rate before its measured window. When the
 * rate steps up (from the warm-up's 20 messages/s, or from the last step
 * after a pause), every target's first messages come late while its code
 * and caches catch up: in two-instance runs a step's ten or fifteen worst
 * messages were mostly its first ones (40 to 140 ms late for Switchboard,
 * 30 to 100 for Socket.IO), against a p99 of 15 to 30 ms after them. A
 * 2.5 s step holds 250 messages at 100/s, so its p99 (its 2 or 3 worst
 * messages) measured that ramp, not the offered load. The figures are
 * taken over the window after it, the settling time's worst latency is
 * kept beside them, and its losses count. (The window's CPU includes the
 * deliveries of the one or two settling messages still on their way at its
 * start, a bias of about 1 % against the slower target.)
 */
export const settleSeconds = 1;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Scenarios 3 and 4: `subscribers` sockets in one room (or split evenly
 * over `audience.rooms`), spread over the servers, one publisher (per room)
 * on the first server, messages offered at each
 * rate for {@link settleSeconds}, then measured for `seconds` more. Stops
 * after the first saturated step.
 */
export async function fanOut(audience: Audience, subscribers: number, rates: number[], seconds: number): Promise<StepFigures[]> {
  const maxSeq = 1 + 2000 + rates.reduce((sum, rate) => sum + Math.ceil(rate * settleSeconds) + Math.ceil(rate * seconds), 0);
  const received = range(subscribers).map(() => new Uint8Array(maxSeq));
  /** The first message of the current step's settling time, and of its measured window. */
  let settleFirstSeq = Number.POSITIVE_INFINITY;
  let stepFirstSeq = Number.POSITIVE_INFINITY;
  let settlingMaxMs = 0;
  let latencies = new Float64Array(0);
  /** Deliveries in the measured window, and in the whole step (losses and duplicates count in both parts). */
  let delivered = 0;
  let stepDelivered = 0;
  let lastDelivery = 0;
  let warmedUp = 0;

  const rooms = audience.rooms ?? [{ id: audience.room, tokens: audience.tokens }];
  const perRoom = subscribers / rooms.length;
  if (!Number.isInteger(perRoom)) throw new Error(`${subscribers} subscribers do not split evenly over ${rooms.length} rooms`);
  const { protocol, servers } = audience;
  const roomOf = (i: number) => rooms[i % rooms.length]!;
  const sockets = await inPool(range(subscribers), 100, (i) => {
    const tokens = roomOf(i).tokens;
    return protocol.connect(servers[i % servers.length]!.port, tokens?.[Math.floor(i / rooms.length) % tokens.length]);
  });
  sockets.forEach((socket, index) => {
    const seen = received[index]!;
    socket.onFrame = (frame) => {
      const at = frame.indexOf('b|');
      const seqEnd = frame.indexOf('|', at + 2);
      const seq = Number(frame.slice(at + 2, seqEnd));
      const sentAt = Number(frame.slice(seqEnd + 1, frame.indexOf('|', seqEnd + 1)));
      if (seq >= maxSeq) return;
      if (seq < settleFirstSeq) {
        if (seen[0] === 0) (seen[0] = 1), warmedUp++;
        return;
      }
      seen[seq]!++;
      stepDelivered++;
      const now = performance.now();
      if (seq < stepFirstSeq) return void (settlingMaxMs = Math.max(settlingMaxMs, now - sentAt));
      if (delivered < latencies.length) latencies[delivered] = now - sentAt;
      delivered++;
      lastDelivery = now;
    };
  });
  await inPool(sockets, 100, (socket, i) => socket.join(roomOf(i).id));
  // One sending socket per room, all on the first server (one room: the audience's publisher).
  const publishers = audience.rooms
    ? await inPool(rooms, 50, (room) => protocol.connect(servers[0]!.port, room.tokens?.[0]))
    : [await protocol.connect(servers[0]!.port, audience.publisherToken)];
  const publish = (seq: number) => publishers[seq % rooms.length]!.publish(roomOf(seq).id, bodyOf(seq));
  /** Sends refused by the server, by sequence number: they count neither as delivered nor as lost. */
  const refused = new Uint8Array(maxSeq);
  for (const publisher of publishers) publisher.onRefused = (body) => void (refused[Number(body.split('|')[1])] = 1);
  const warmEveryMs = rooms.length > 1 ? 5 : 50;

  // Subscriptions start asynchronously on the server: publish until every socket has received one.
  let seq = 1;
  const warmDeadline = Date.now() + 20_000;
  while (warmedUp < subscribers && Date.now() < warmDeadline && seq < 2000) {
    publish(seq++);
    await sleep(warmEveryMs);
  }
  if (warmedUp < subscribers) throw new Error(`${audience.protocol.name}: only ${warmedUp} of ${subscribers} subscribers received anything`);
  await sleep(500);
  seq = 2001;

  const steps: StepFigures[] = [];
  for (const rate of rates) {
    const settleCount = Math.ceil(rate * settleSeconds);
    const count = Math.ceil(rate * seconds);
    const expected = count * perRoom;
    const stepExpected = (settleCount + count) * perRoom;
    settleFirstSeq = seq;
    stepFirstSeq = seq + settleCount;
    settlingMaxMs = 0;
    latencies = new Float64Array(expected);
    delivered = 0;
    stepDelivered = 0;
    // One send loop for the settling time and the window, so the rate runs on unbroken across the boundary;
    // the servers' CPU is read there, from /proc (a busy server's event loop is not waited for).
    const settleStarted = performance.now();
    let started = settleStarted;
    let before: CpuTime[] = [];
    let backingBefore: Promise<BackingCpu> | undefined;
    let sent = 0;
    while (sent < settleCount + count) {
      const due = Math.min(settleCount + count, Math.floor(((performance.now() - settleStarted) / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        if (seq === stepFirstSeq) {
          started = performance.now();
          before = audience.servers.map((s) => s.cpuTime());
          backingBefore = readBackingCpu?.();
        }
        publish(seq++);
      }
      await sleep(2);
    }
    const sendEnded = performance.now();
    // Drain: until everything arrived, or nothing has for 3 s.
    let progress = stepDelivered;
    let quietSince = performance.now();
    while (stepDelivered < stepExpected && performance.now() - quietSince < 3000) {
      await sleep(50);
      if (stepDelivered !== progress) (progress = stepDelivered), (quietSince = performance.now());
    }
    const cpuAfter = audience.servers.map((s) => s.cpuTime());
    const ended = performance.now();
    const [backingFrom, backingTo] = await Promise.all([backingBefore, readBackingCpu?.()]);
    const cpuMicros = cpuAfter.reduce((sum, s, i) => sum + s.cpuMicros - before[i]!.cpuMicros, 0);
    const userMicros = cpuAfter.reduce((sum, s, i) => sum + s.userMicros - before[i]!.userMicros, 0);
    let unique = 0;
    for (const seen of received) for (let s = settleFirstSeq; s < seq; s++) if (seen[s]! > 0) unique++;
    let refusedInStep = 0;
    for (let s = settleFirstSeq; s < seq; s++) refusedInStep += refused[s]!;
    const sorted = latencies.subarray(0, Math.min(delivered, latencies.length)).sort();
    const step: StepFigures = {
      offeredPerSecond: rate * perRoom,
      deliveriesPerSecond: delivered ? delivered / ((lastDelivery - started) / 1000) : 0,
      messagesPerSecond: count / ((sendEnded - started) / 1000),
      cpuMicrosPerMessage: cpuMicros / count,
      postgresMicrosPerMessage: backingFrom && backingTo ? (backingTo.postgresMicros - backingFrom.postgresMicros) / count : undefined,
      redisMicrosPerMessage: backingFrom && backingTo ? (backingTo.redisMicros - backingFrom.redisMicros) / count : undefined,
      cpuMicrosPerDelivery: delivered ? cpuMicros / delivered : Number.NaN,
      userMicrosPerDelivery: delivered ? userMicros / delivered : Number.NaN,
      serverCores: cpuMicros / ((ended - started) * 1000),
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
      lost: stepExpected - refusedInStep * perRoom - unique,
      duplicated: stepDelivered - unique,
      refused: refusedInStep,
      settlingMaxMs,
    };
    steps.push(step);
    if (saturated(step)) break;
    await sleep(300);
  }
  for (const publisher of publishers) publisher.close();
  for (const socket of sockets) socket.close();
  await sleep(1000);
  return steps;
}
