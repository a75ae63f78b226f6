/** Room and message operations over real HTTP (and, where a test needs it, straight in PostgreSQL), for the suites. */
import { expect } from 'vitest';
import { withDatabase } from '../helpers/env.ts';
import { collect, connectSocket, gql, metric, uuidOf, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';

export const CREATE_ROOM = 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { id name permission maxMembers memberCount allowedRoles owner { id } } }';
export const JOIN = 'mutation($id: ID!) { joinRoom(roomId: $id) { id memberCount } }';
export const SEND = 'mutation($id: ID!, $body: String!, $key: String) { sendMessage(roomId: $id, body: $body, idempotencyKey: $key) { id body cursor author { id username } room { id } } }';
export const ROOM_MESSAGES = 'subscription($id: ID!, $after: String) { roomMessages(roomId: $id, after: $after) { id body cursor author { username } } }';

export async function createRoom(server: TestServer, token: string, input: Record<string, unknown> = {}) {
  const response = await gql(server, CREATE_ROOM, { input: { name: 'room', ...input } }, { token });
  if (!response.data) throw new Error(`createRoom failed: ${JSON.stringify(response.errors)}`);
  return response.data.createRoom as { id: string; name: string; permission: string; maxMembers: number; memberCount: number };
}

/** The count of stored messages an instance did not publish, as no other instance listened to their room (src/rooms/feed.ts). */
export const SKIPPED = 'switchboard_message_publishes_skipped_total';

/** Sends on `server` until one send is not published (its room is known to be alone there); at most 20. */
export async function untilAlone(server: TestServer, token: string, room: string): Promise<void> {
  const before = await metric(server, SKIPPED);
  await expect
    .poll(async () => {
      await gql(server, SEND, { id: room, body: 'learning' }, { token });
      return (await metric(server, SKIPPED)) > before;
    })
    .toBe(true);
}

/**
 * Sends "warm-up" messages to a room until `live()` holds: a subscription
 * just asked for may still be starting on the server, and only a message it
 * received shows it live.
 */
export async function warmUp(server: Pick<TestServer, 'graphqlUrl'>, token: string, roomId: string, live: () => boolean): Promise<void> {
  await expect
    .poll(async () => {
      await gql(server, SEND, { id: roomId, body: 'warm-up' }, { token });
      return live();
    })
    .toBe(true);
}

/** The messages PostgreSQL holds for a room (by its global ID), in sequence order. */
/**
 * An owner and a member of a new room, both signed up on `home`, the
 * member subscribed to its messages on `watching`, live once a message the
 * owner sends through `warmVia` has reached it.
 */
export async function memberWatching(home: TestServer, watching: TestServer, warmVia: TestServer = home) {
  const [owner, member] = await Promise.all([signUp(home), signUp(home)]);
  const room = (await createRoom(home, owner.accessToken)).id;
  await gql(home, JOIN, { id: room }, { token: member.accessToken });
  const socket = connectSocket(watching, { token: member.accessToken });
  await socket.acked;
  const messages = collect(socket.client, ROOM_MESSAGES, { id: room });
  await warmUp(warmVia, owner.accessToken, room, () => messages.results.length > 0);
  return { owner, member, room, socket, messages };
}

export const storedMessages = (roomId: string) =>
  withDatabase(async (client) => (await client.query('SELECT seq, body FROM "Message" WHERE "roomId" = $1 ORDER BY seq', [uuidOf(roomId)])).rows as { seq: number; body: string }[]);

/** Stores messages as the room's next ones, in order, straight in PostgreSQL: what sends leave behind when their publish is lost. */
export const storeUnannounced = (roomId: string, authorId: string, ...bodies: string[]) =>
  withDatabase((client) =>
    client.query(
      `WITH r AS (UPDATE "Room" SET "lastSeq" = "lastSeq" + cardinality($3::text[]) WHERE id = $1 RETURNING id, "lastSeq")
       INSERT INTO "Message" (id, "roomId", seq, "authorId", body)
       SELECT gen_random_uuid(), r.id, r."lastSeq" - cardinality($3::text[]) + b.n, $2, b.body FROM r, unnest($3::text[]) WITH ORDINALITY AS b(body, n)`,
      [uuidOf(roomId), uuidOf(authorId), bodies],
    ),
  );
