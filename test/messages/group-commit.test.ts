/**
 * Group commit (src/utils/group-commit.ts, src/messages/store.ts): sends made
 * at once are stored by fewer statements than sends, each room still numbered
 * without gap or duplicate, each sender answered with its own message, and a
 * retry racing its original in one batch answered with the original.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '../helpers/env.ts';
import { errorCodes, gql, metric, scaledEnv, startServer, stopAllServers, uuidOf, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { createRoom, JOIN, SEND, storedMessages } from '../rooms/helpers.ts';

afterAll(() => stopAllServers());

const seqOf = (cursor: string) => Number(/^m:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString())![1]);

const statements = (server: TestServer) => metric(server, 'switchboard_message_statements_total');

const limits = { MESSAGE_RATE_PER_USER: '1000', MESSAGE_RATE_PER_ROOM: '1000' };

describe.each([
  ['scaled', scaledEnv],
  ['embedded', () => ({})],
] as const)('%s: sends made at once', (_mode, env) => {
  it('50 sends to three rooms from five members: fewer statements than sends, every room numbered 1..n, each sender its own message', async () => {
    const server = await startServer({ ...env(), ...limits });
    const owner = await signUp(server);
    const members = [owner, ...(await Promise.all(Array.from({ length: 4 }, () => signUp(server))))];
    const rooms = await Promise.all(Array.from({ length: 3 }, () => createRoom(server, owner.accessToken)));
    for (const room of rooms) for (const member of members.slice(1)) await gql(server, JOIN, { id: room.id }, { token: member.accessToken });
    const before = await statements(server);

    const sends = Array.from({ length: 50 }, (_, i) => ({ room: rooms[i % 3]!, member: members[i % 5]!, body: `message ${i}` }));
    const answers = await Promise.all(sends.map(({ room, member, body }) => gql(server, SEND, { id: room.id, body }, { token: member.accessToken })));

    expect(answers.flatMap((answer) => answer.errors ?? [])).toEqual([]);
    answers.forEach((answer, i) => {
      expect(answer.data.sendMessage.body).toBe(sends[i]!.body);
      expect(answer.data.sendMessage.author.id).toBe(sends[i]!.member.id);
      expect(answer.data.sendMessage.room.id).toBe(sends[i]!.room.id);
    });
    for (const room of rooms) {
      const seqs = answers.filter((_, i) => sends[i]!.room === room).map((answer) => seqOf(answer.data.sendMessage.cursor));
      expect(seqs.sort((x, y) => x - y)).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    }
    const used = (await statements(server)) - before;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(50);

    // What a reader pages through is what the senders were told.
    const page = await gql(server, 'query($id: ID!) { messages(roomId: $id, last: 100) { edges { node { body cursor } } } }', { id: rooms[0]!.id }, { token: owner.accessToken });
    const stored = page.data.messages.edges.map(({ node }: { node: { body: string; cursor: string } }) => `${seqOf(node.cursor)} ${node.body}`);
    const told = answers.filter((_, i) => sends[i]!.room === rooms[0]).map((answer) => `${seqOf(answer.data.sendMessage.cursor)} ${answer.data.sendMessage.body}`);
    expect(stored.sort()).toEqual(told.sort());
  });

  it('a retry racing its original in one batch gets the original, and the batch’s other sends are stored once each', async () => {
    const server = await startServer({ ...env(), ...limits });
    const owner = await signUp(server);
    const room = await createRoom(server, owner.accessToken);
    const retried = Array.from({ length: 8 }, () => gql(server, SEND, { id: room.id, body: 'once', key: 'same-key' }, { token: owner.accessToken }));
    const others = Array.from({ length: 12 }, (_, i) => gql(server, SEND, { id: room.id, body: `other ${i}` }, { token: owner.accessToken }));
    const [a, b] = [await Promise.all(retried), await Promise.all(others)];
    expect([...a, ...b].flatMap(errorCodes)).toEqual([]);
    expect(new Set(a.map((answer) => answer.data.sendMessage.id)).size).toBe(1);
    const seqs = [...a.slice(0, 1), ...b].map((answer) => seqOf(answer.data.sendMessage.cursor)).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
  });
});

describe('a room whose row another transaction holds', () => {
  it('holds up only its own sends: the others are stored meanwhile, and its own once the row is free, and a single send to an open room is not held up either', async () => {
    const server = await startServer({ ...scaledEnv(), ...limits });
    const owner = await signUp(server);
    const [busy, open] = await Promise.all([createRoom(server, owner.accessToken), createRoom(server, owner.accessToken)]);
    await gql(server, SEND, { id: busy.id, body: 'warm' }, { token: owner.accessToken });
    const holder = new pg.Client({ connectionString: testDatabaseUrl });
    await holder.connect();
    try {
      // What a long change to the room would do: its row locked until the transaction ends.
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM "Room" WHERE id = $1 FOR UPDATE', [uuidOf(busy.id)]);
      let busyDone = false;
      const held = Promise.all(Array.from({ length: 3 }, (_, i) => gql(server, SEND, { id: busy.id, body: `held ${i}` }, { token: owner.accessToken }))).finally(() => (busyDone = true));
      const together = await Promise.all(Array.from({ length: 10 }, (_, i) => gql(server, SEND, { id: open.id, body: `open ${i}` }, { token: owner.accessToken })));
      const alone = await gql(server, SEND, { id: open.id, body: 'alone' }, { token: owner.accessToken });
      expect([...together, alone].flatMap(errorCodes)).toEqual([]);
      expect(busyDone).toBe(false);
      await holder.query('COMMIT');
      expect((await held).flatMap(errorCodes)).toEqual([]);
      expect((await storedMessages(busy.id)).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      expect((await storedMessages(open.id)).map((m) => m.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    } finally {
      await holder.end();
    }
  });
});
