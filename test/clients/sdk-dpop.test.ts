/**
 * The SDK with DPoP-bound sessions against real servers: against a server
 * with DPOP_REQUIRED it binds on its own (login, every request, the socket,
 * refresh over the socket), and what it holds is useless to anyone who
 * copies its tokens; `dpop: true` binds on any server, `dpop: false` never.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateRoomDocument, MeDocument, SlotsChangedDocument } from '../../client/documents.ts';
import { GraphQLRequestError, type Message, type SessionEnd } from '../../client/sdk.ts';
import { claimsOf } from '../helpers/accounts.ts';
import { connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { clientApiServed, closeClients, password, sdk, statusOf } from './helpers.ts';

/** Registers a user (no login: a DPOP_REQUIRED server refuses a login without a proof). */
async function registered(server: TestServer): Promise<string> {
  const username = uniqueName('sd');
  const response = await gql(server, 'mutation ($input: RegisterInput!) { register(input: $input) { id } }', { input: { username, email: `${username}@example.test`, password } });
  if (response.errors) throw new Error(`register failed: ${JSON.stringify(response.errors)}`);
  return username;
}

const REFRESH = 'mutation ($token: String) { refresh(refreshToken: $token) { accessToken } }';

describe.skipIf(!clientApiServed)('SDK with DPoP', () => {
  let strict: TestServer;
  let open: TestServer;
  const ttl = 3;

  beforeAll(async () => {
    [strict, open] = await Promise.all([startServer({ ...scaledEnv(), DPOP_REQUIRED: 'true', ACCESS_TOKEN_TTL: String(ttl) }), startServer(scaledEnv())]);
  });
  afterEach(() => closeClients());
  afterAll(() => stopAllServers());

  it('binds on its own when the server requires it: login, requests, socket, renewal over the socket', async () => {
    const username = await registered(strict);
    const client = sdk(strict);
    const ended: SessionEnd[] = [];
    const connections: boolean[] = [];
    client.on('ended', (end) => ended.push(end));
    client.on('connected', ({ reconnected }) => connections.push(reconnected));
    await client.login(username, password);
    await statusOf(client, 'connected');
    const first = client.tokens!;
    expect(claimsOf(first.accessToken).cnf?.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await client.request(MeDocument)).me?.username).toBe(username);
    const { createRoom } = await client.request(CreateRoomDocument, { input: { name: uniqueName('room') } });
    const received: Message[] = [];
    client.roomMessages(createRoom.id, { next: (m) => received.push(m) });
    const seats: number[] = [];
    client.subscribe(SlotsChangedDocument, {}, { next: ({ connectionSlots }) => seats.push(connectionSlots.used) });

    // Past two token lifetimes: renewed over the socket each time (a 4003 would have meant a reconnect).
    await new Promise((r) => setTimeout(r, ttl * 1000 * 2 + 500));
    expect(connections).toEqual([false]);
    expect(ended).toEqual([]);
    expect(client.status).toBe('connected');
    const renewed = client.tokens!;
    expect(renewed.refreshToken).not.toBe(first.refreshToken);
    expect(claimsOf(renewed.accessToken).cnf).toEqual(claimsOf(first.accessToken).cnf);
    await client.sendMessage(createRoom.id, 'bound and renewed');
    await expect.poll(() => received.map((m) => m.body), { timeout: 5000 }).toEqual(['bound and renewed']);
    expect(seats.length).toBeGreaterThanOrEqual(1);

    // What it holds is useless without its key, which cannot be exported.
    expect(errorCodes(await gql(strict, '{ me { id } }', {}, { token: renewed.accessToken }))).toEqual(['UNAUTHENTICATED']);
    expect((await connectSocket(strict, { authorization: `DPoP ${renewed.accessToken}` }).closed).code).toBe(4403);
    expect(errorCodes(await gql(strict, REFRESH, { token: renewed.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    // The refused copies changed nothing: the client renews again and carries on.
    await client.refresh();
    expect((await client.request(MeDocument)).me?.username).toBe(username);
  });

  it('dpop: true binds on a server that does not require it; dpop: false is refused by one that does', async () => {
    const username = await registered(open);
    const bound = sdk(open, { dpop: true });
    await bound.login(username, password);
    await statusOf(bound, 'connected');
    expect(claimsOf(bound.tokens!.accessToken).cnf?.jkt).toBeTruthy();
    expect((await bound.request(MeDocument)).me?.username).toBe(username);
    await bound.refresh();
    expect(claimsOf(bound.tokens!.accessToken).cnf?.jkt).toBeTruthy();

    const plain = sdk(open);
    await plain.login(username, password);
    expect(claimsOf(plain.tokens!.accessToken).cnf).toBeUndefined();

    const strictUser = await registered(strict);
    const refusing = sdk(strict, { dpop: false });
    const error = await refusing.login(strictUser, password).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphQLRequestError);
    expect((error as GraphQLRequestError).errors[0]!.extensions?.reason).toBe('DPOP_REQUIRED');
  });
});
