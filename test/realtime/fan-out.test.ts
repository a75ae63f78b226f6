/**
 * Shared fan-out (src/realtime/fan-out.ts, frames.ts) and the live room
 * order (src/messages/live.ts): an event is executed once per audience,
 * serialized once and written to the sockets directly, yet every
 * subscriber still gets exactly what its own document, its own identity
 * and its own cursor would give it, in order, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, gql, metric, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp, type TestAccount } from '../helpers/accounts.ts';
import { JOIN, ROOM_MESSAGES, SEND, createRoom, storeUnannounced, warmUp } from '../rooms/helpers.ts';
import { openRawSocket } from '../operations/raw-socket.ts';

const WITH_EMAIL = 'subscription($id: ID!) { roomMessages(roomId: $id) { body cursor author { username email } } }';
const BODY_ONLY = 'subscription($id: ID!) { roomMessages(roomId: $id) { body } }';

let server: TestServer;
let author: TestAccount;
let reader: TestAccount;
let roomId: string;

beforeAll(async () => {
  server = await startServer({ ...scaledEnv(), MAX_SOCKETS_PER_USER: '20', MESSAGE_MAX_LENGTH: '100000', MESSAGE_RATE_PER_USER: '1000', MESSAGE_RATE_PER_ROOM: '1000', MAX_SOCKET_BUFFER: String(1024 * 1024) });
  [author, reader] = await Promise.all([signUp(server), signUp(server)]);
  roomId = (await createRoom(server, author.accessToken)).id;
  await gql(server, JOIN, { id: roomId }, { token: reader.accessToken });
});
afterAll(() => stopAllServers());

async function subscriber(account: TestAccount, query: string, variables: Record<string, unknown> = { id: roomId }) {
  const socket = connectSocket(server, { token: account.accessToken });
  await socket.acked;
  return { socket, stream: collect(socket.client, query, variables) };
}

const send = async (room: string, body: string) => {
  const sent = await gql(server, SEND, { id: room, body }, { token: author.accessToken });
  if (!sent.data) throw new Error(`send failed: ${JSON.stringify(sent.errors)}`);
  return sent.data.sendMessage as { id: string; body: string; cursor: string };
};
const bodiesOf = (view: { stream: { results: { data?: any }[] } }) => view.stream.results.map((r) => r.data?.roomMessages?.body as string);

/** A room with `author` and `reader` in it, and a subscriber on it that is known to be live. */
async function liveRoom() {
  const room = (await createRoom(server, author.accessToken)).id;
  await gql(server, JOIN, { id: room }, { token: reader.accessToken });
  const probe = await subscriber(reader, ROOM_MESSAGES, { id: room });
  await warmUp(server, author.accessToken, room, () => probe.stream.results.length > 0);
  return { room, probe };
}

describe('shared fan-out', () => {
  it('gives each subscriber its own view: the author sees their email, another member sees null, another document its own shape', async () => {
    const authorView = await subscriber(author, WITH_EMAIL);
    const readerView = await subscriber(reader, WITH_EMAIL);
    const bodyOnly = await subscriber(reader, BODY_ONLY);
    // Subscriptions start asynchronously: send until all three are live, then one message that counts.
    await expect.poll(async () => {
      await gql(server, SEND, { id: roomId, body: 'warm-up' }, { token: author.accessToken });
      return Math.min(authorView.stream.results.length, readerView.stream.results.length, bodyOnly.stream.results.length);
    }).toBeGreaterThan(0);
    const sent = await gql(server, SEND, { id: roomId, body: 'hello all' }, { token: author.accessToken });
    expect(sent.errors).toBeUndefined();
    const last = async (view: typeof authorView) => {
      await expect.poll(() => view.stream.results.at(-1)?.data?.roomMessages?.body).toBe('hello all');
      return view.stream.results.at(-1)!;
    };
    expect((await last(authorView)).data.roomMessages.author).toEqual({ username: author.username, email: author.email });
    expect((await last(readerView)).data.roomMessages.author).toEqual({ username: author.username, email: null });
    expect(await last(bodyOnly)).toEqual({ data: { roomMessages: { body: 'hello all' } } });
    for (const view of [authorView, readerView, bodyOnly]) view.socket.client.terminate();
  });

  it('executes per viewer any field not declared the same for every viewer: a member and an outsider with the same roles see their own messagesCursor', async () => {
    const CURSORS = 'subscription { roomListChanges { kind room { id messagesCursor } } }';
    const [member, outsider, joiner] = await Promise.all([signUp(server), signUp(server), signUp(server)]);
    const room = (await createRoom(server, member.accessToken)).id;
    const views = [await subscriber(member, CURSORS, {}), await subscriber(outsider, CURSORS, {})];
    await expect.poll(() => Math.min(...views.map((v) => v.stream.results.length))).toBeGreaterThan(0);
    await gql(server, JOIN, { id: room }, { token: joiner.accessToken });
    const changeOf = async (view: (typeof views)[number]) => {
      await expect.poll(() => view.stream.results.some((r) => r.data?.roomListChanges?.room?.id === room)).toBe(true);
      return view.stream.results.find((r) => r.data?.roomListChanges?.room?.id === room)!.data.roomListChanges.room;
    };
    expect((await changeOf(views[0]!)).messagesCursor).toEqual(expect.any(String));
    expect((await changeOf(views[1]!)).messagesCursor).toBeNull();
    for (const view of views) view.socket.client.terminate();
  });

  it('delivers every message once, in order, with the same payload, to many subscribers of one document', async () => {
    const views = await Promise.all(Array.from({ length: 12 }, () => subscriber(reader, WITH_EMAIL)));
    await expect.poll(async () => {
      await gql(server, SEND, { id: roomId, body: 'warm-up' }, { token: author.accessToken });
      return Math.min(...views.map((v) => v.stream.results.length));
    }).toBeGreaterThan(0);
    const bodies = Array.from({ length: 15 }, (_, i) => `burst ${i}`);
    // Sent concurrently: publish order may differ from commit order, which exercises the shared gap read.
    const sent = await Promise.all(bodies.map((body) => gql(server, SEND, { id: roomId, body }, { token: author.accessToken })));
    const cursors = sent.map((r) => r.data.sendMessage.cursor as string).sort((a, b) => seqOf(a) - seqOf(b));
    for (const view of views) {
      await expect.poll(() => view.stream.results.filter((r) => r.data?.roomMessages.body.startsWith('burst')).length).toBe(bodies.length);
    }
    const burstOf = (view: (typeof views)[number]) => view.stream.results.filter((r) => r.data?.roomMessages.body.startsWith('burst'));
    const first = burstOf(views[0]!);
    expect(first.map((r) => r.data.roomMessages.cursor)).toEqual(cursors);
    for (const view of views) expect(burstOf(view)).toEqual(first);
    for (const view of views) view.socket.client.terminate();
  });
});

describe('live order and cursors', () => {
  it('subscribers from different cursors each get their own replay, then the same live messages, each once', async () => {
    const { room, probe } = await liveRoom();
    const [m1, m2, m3] = [await send(room, 'm1'), await send(room, 'm2'), await send(room, 'm3')];
    const fromFirst = await subscriber(reader, ROOM_MESSAGES, { id: room, after: m1.cursor });
    const fromSecond = await subscriber(reader, ROOM_MESSAGES, { id: room, after: m2.cursor });
    await fromFirst.stream.waitFor(2);
    await fromSecond.stream.waitFor(1);
    const live = ['l1', 'l2', 'l3', 'l4', 'l5'];
    await Promise.all(live.map((body) => send(room, body)));
    for (const view of [probe, fromFirst, fromSecond]) await expect.poll(() => bodiesOf(view).filter((b) => b.startsWith('l')).length).toBe(live.length);
    const order = bodiesOf(probe).filter((b) => b.startsWith('l'));
    expect([...order].sort()).toEqual(live);
    expect(bodiesOf(fromFirst)).toEqual(['m2', 'm3', ...order]);
    expect(bodiesOf(fromSecond)).toEqual(['m3', ...order]);
    expect(bodiesOf(probe).slice(-8)).toEqual(['m1', 'm2', 'm3', ...order]);
    expect(m3.cursor).not.toBe(m2.cursor);
    for (const view of [probe, fromFirst, fromSecond]) view.socket.client.terminate();
  });

  it('a message stored but never published (its publish lost) reaches live subscribers before the next one, in order', async () => {
    const { room, probe } = await liveRoom();
    // What a publish lost in a Redis outage leaves behind: the row is there, the bus never said so.
    await storeUnannounced(room, author.id, 'unannounced');
    await send(room, 'announced');
    await expect.poll(() => bodiesOf(probe).slice(-2)).toEqual(['unannounced', 'announced']);
    expect(bodiesOf(probe).filter((b) => b === 'unannounced')).toHaveLength(1);
    probe.socket.client.terminate();
  });

  it('frames of every size (7-bit, 16-bit and 64-bit lengths, multi-byte characters) arrive intact', async () => {
    const { room, probe } = await liveRoom();
    const bodies = ['é✓ short', `${'ü'.repeat(60)}🙂`, `${'x'.repeat(3000)}🙂`, `${'ø'.repeat(40_000)}🙂`];
    for (const body of bodies) await send(room, body);
    await expect.poll(() => bodiesOf(probe).slice(-bodies.length)).toEqual(bodies);
    probe.socket.client.terminate();
  });

  it('a subscriber that completes gets no frame for it afterwards; the others carry on', async () => {
    const { room, probe } = await liveRoom();
    // A raw socket: a graphql-ws client would drop frames for a finished id without telling.
    const leaving = await rawSubscriber(room, 'leaving');
    leaving.send({ id: 'leaving', type: 'complete' });
    for (const body of ['after 1', 'after 2', 'after 3']) await send(room, body);
    await expect.poll(() => bodiesOf(probe).slice(-3)).toEqual(['after 1', 'after 2', 'after 3']);
    // A warm-up still on its way when it completed may arrive; nothing sent afterwards may.
    const bodies = leaving.received.map((m: any) => m.payload?.data?.roomMessages?.body as string | undefined);
    expect(bodies.filter((body) => body?.startsWith('after'))).toEqual([]);
    leaving.ws.terminate();
    probe.socket.client.terminate();
  });
});

/** A raw graphql-transport-ws socket of `reader` subscribed to the room's messages as `id`, once its first message came. */
async function rawSubscriber(room: string, id: string) {
  const socket = await openRawSocket(server.wsUrl);
  socket.send({ type: 'connection_init', payload: { token: reader.accessToken } });
  await socket.next((m) => m.type === 'connection_ack');
  socket.send({ id, type: 'subscribe', payload: { query: ROOM_MESSAGES, variables: { id: room } } });
  await warmUp(server, author.accessToken, room, () => socket.received.some((m: any) => m.type === 'next' && m.id === id));
  return socket;
}

describe('slow consumers', () => {
  it('a subscriber that stops reading is closed with 1008 once MAX_SOCKET_BUFFER bytes wait for it; the others get everything', async () => {
    const { room, probe } = await liveRoom();
    const stalled = await rawSubscriber(room, 'slow');
    // The client stops reading: the kernel's buffers fill first, then the server's.
    stalled.ws.pause();
    const closesBefore = await slowConsumerCloses();
    const big = 'b'.repeat(90_000);
    const sent: string[] = [];
    for (let i = 0; i < 200 && (await slowConsumerCloses()) === closesBefore; i++) {
      for (let j = 0; j < 10; j++) sent.push((await send(room, `${i}.${j} ${big}`)).body);
    }
    expect(await slowConsumerCloses()).toBe(closesBefore + 1);
    stalled.ws.resume();
    expect((await stalled.closed).code).toBe(1008);
    await expect.poll(() => bodiesOf(probe).slice(-sent.length).length === sent.length && bodiesOf(probe).slice(-sent.length).every((b, i) => b === sent[i]), { timeout: 20_000 }).toBe(true);
    probe.socket.client.terminate();
  }, 90_000);
});

/** How many sockets this server has closed with 1008 (from /metrics). */
const slowConsumerCloses = () => metric(server, 'switchboard_refused_connections_total', { code: '1008' });

function seqOf(cursor: string): number {
  return Number(Buffer.from(cursor, 'base64url').toString().slice(2));
}
