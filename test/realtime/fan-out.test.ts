/**
 * Shared fan-out (src/realtime/fan-out.ts): an event is executed once per
 * audience and serialized once, yet every subscriber still gets exactly
 * what its own document and its own identity would give it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, gql, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp, type TestAccount } from '../helpers/accounts.ts';
import { JOIN, SEND, createRoom } from '../rooms/helpers.ts';

const WITH_EMAIL = 'subscription($id: ID!) { roomMessages(roomId: $id) { body cursor author { username email } } }';
const BODY_ONLY = 'subscription($id: ID!) { roomMessages(roomId: $id) { body } }';

let server: TestServer;
let author: TestAccount;
let reader: TestAccount;
let roomId: string;

beforeAll(async () => {
  server = await startServer({ ...scaledEnv(), MAX_SOCKETS_PER_USER: '20' });
  [author, reader] = await Promise.all([signUp(server), signUp(server)]);
  roomId = (await createRoom(server, author.accessToken)).id;
  await gql(server, JOIN, { id: roomId }, { token: reader.accessToken });
});
afterAll(() => stopAllServers());

async function subscriber(account: TestAccount, query: string) {
  const socket = connectSocket(server, { token: account.accessToken });
  await socket.acked;
  return { socket, stream: collect(socket.client, query, { id: roomId }) };
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

function seqOf(cursor: string): number {
  return Number(Buffer.from(cursor, 'base64url').toString().slice(2));
}
