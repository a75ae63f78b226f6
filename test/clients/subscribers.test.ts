/**
 * Standard clients subscribe to roomMessages with auth: Apollo Client
 * (GraphQLWsLink), urql (subscriptionExchange over graphql-ws), and the
 * GraphQL-over-SSE fallback at /graphql/stream (graphql-sse client), whose
 * streams need a token and end when the session does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import WebSocket from 'ws';
import { ApolloClient, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client as UrqlClient, subscriptionExchange } from '@urql/core';
import { RoomMessagesDocument } from '../../client/documents.ts';
import type { Message } from '../../client/sdk.ts';
import { eventually, gql, scaledEnv, startServer, stopAllServers, type TestServer, nextSubscriptionStart } from '../helpers/server.ts';
import { account, room, type TestAccount } from './helpers.ts';

const send = async (server: TestServer, sender: TestAccount, roomId: string, body: string) => {
  const sent = await gql(server, 'mutation ($roomId: ID!, $body: String!) { sendMessage(roomId: $roomId, body: $body) { id } }', { roomId, body }, { token: sender.accessToken });
  expect(sent.errors).toBeUndefined();
};

describe('standard subscribers', () => {
  let server: TestServer;
  const sockets: WsClient[] = [];
  const wsClient = (token?: string) => {
    const client = createWsClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: token ? { authorization: `Bearer ${token}` } : {} });
    sockets.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: '4', CONNECTS_PER_IP: '60' });
  });
  afterAll(async () => {
    for (const s of sockets) await s.dispose();
    await stopAllServers();
  });

  it('Apollo Client with GraphQLWsLink receives roomMessages', async () => {
    const alice = await account(server, 'ap');
    const bob = await account(server, 'ap');
    const roomId = await room(server, alice, [bob]);
    const apollo = new ApolloClient({ link: new GraphQLWsLink(wsClient(alice.accessToken)), cache: new InMemoryCache() });
    const bodies: string[] = [];
    const started = await nextSubscriptionStart(server, 'roomMessages');
    const subscription = apollo.subscribe({ query: parse(RoomMessagesDocument.toString()), variables: { roomId } }).subscribe({
      next: (result) => bodies.push((result.data as { roomMessages: Message }).roomMessages.body),
    });
    await started();
    await send(server, bob, roomId, 'to apollo 1');
    await send(server, bob, roomId, 'to apollo 2');
    await eventually(() => bodies.length >= 2, 5000, 'apollo results');
    expect(bodies).toEqual(['to apollo 1', 'to apollo 2']);
    subscription.unsubscribe();
  });

  it('Apollo Client without a token is refused (4403)', async () => {
    const apollo = new ApolloClient({ link: new GraphQLWsLink(wsClient()), cache: new InMemoryCache() });
    const failure = await new Promise<unknown>((resolve) => {
      apollo.subscribe({ query: parse(RoomMessagesDocument.toString()), variables: { roomId: 'x' } }).subscribe({
        next: (result) => result.error && resolve(result.error),
        error: resolve,
      });
    });
    expect(JSON.stringify(failure) + String(failure)).toMatch(/4403|Forbidden/);
  });

  it('urql with subscriptionExchange over graphql-ws receives roomMessages', async () => {
    const alice = await account(server, 'ur');
    const bob = await account(server, 'ur');
    const roomId = await room(server, alice, [bob]);
    const socket = wsClient(alice.accessToken);
    const urql = new UrqlClient({
      url: server.graphqlUrl,
      exchanges: [
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query ?? '' };
            return { subscribe: (sink) => ({ unsubscribe: socket.subscribe(input, sink) }) };
          },
        }),
      ],
    });
    const bodies: string[] = [];
    const started = await nextSubscriptionStart(server, 'roomMessages');
    const subscription = urql.subscription(RoomMessagesDocument.toString(), { roomId }).subscribe((result) => {
      const data = result.data as { roomMessages: Message } | undefined;
      if (data) bodies.push(data.roomMessages.body);
    });
    await started();
    await send(server, bob, roomId, 'to urql 1');
    await send(server, bob, roomId, 'to urql 2');
    await eventually(() => bodies.length >= 2, 5000, 'urql results');
    expect(bodies).toEqual(['to urql 1', 'to urql 2']);
    subscription.unsubscribe();
  });

  describe('GraphQL over SSE at /graphql/stream', () => {
    const sse = (token?: string) =>
      createSseClient({ url: `${server.url}/graphql/stream`, headers: token ? { authorization: `Bearer ${token}` } : {}, retryAttempts: 0 });

    /** Subscribes and records every result and how the stream ended. */
    const record = (token: string | undefined, roomId: string) => {
      const results: { data?: { roomMessages: Message } | null; errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> }[] = [];
      let ended: 'complete' | 'error' | null = null;
      const client = sse(token);
      const dispose = client.subscribe<{ roomMessages: Message }>(
        { query: RoomMessagesDocument.toString(), variables: { roomId } },
        { next: (r) => void results.push(r), error: () => (ended = 'error'), complete: () => (ended = 'complete') },
      );
      return { results, ended: () => ended, dispose: () => (dispose(), client.dispose()) };
    };

    it('streams roomMessages to a client with a valid token', async () => {
      const alice = await account(server, 'ss');
      const bob = await account(server, 'ss');
      const roomId = await room(server, alice, [bob]);
      const started = await nextSubscriptionStart(server, 'roomMessages');
      const stream = record(alice.accessToken, roomId);
      await started();
      await send(server, bob, roomId, 'over sse 1');
      await send(server, bob, roomId, 'over sse 2');
      await eventually(() => stream.results.length >= 2, 5000, 'sse results');
      expect(stream.results.map((r) => r.data?.roomMessages.body)).toEqual(['over sse 1', 'over sse 2']);
      stream.dispose();
    });

    it('refuses a subscription without a token, or with a bad one (UNAUTHENTICATED)', async () => {
      for (const token of [undefined, 'not-a-jwt']) {
        const stream = record(token, 'anything');
        await eventually(() => stream.ended() !== null || stream.results.length > 0, 5000, 'refusal');
        expect(stream.results[0]?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        stream.dispose();
      }
    });

    it('ends the stream with UNAUTHENTICATED when the session is logged out', async () => {
      const alice = await account(server, 'ss');
      const roomId = await room(server, alice);
      const started = await nextSubscriptionStart(server, 'roomMessages');
      const stream = record(alice.accessToken, roomId);
      await started();
      await gql(server, 'mutation { logout }', {}, { token: alice.accessToken });
      await eventually(() => stream.ended() !== null, 5000, 'end of stream');
      expect(stream.results.at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(stream.results.at(-1)?.errors?.[0]?.message).toMatch(/session/i);
    });

    it('ends the stream when the access token expires', async () => {
      const alice = await account(server, 'ss');
      const roomId = await room(server, alice);
      const stream = record(alice.accessToken, roomId);
      await eventually(() => stream.ended() !== null, 10_000, 'end of stream at expiry');
      expect(stream.results.at(-1)?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(stream.results.at(-1)?.errors?.[0]?.message).toMatch(/expired/i);
    });

    it('counts each subscription as a connection attempt: past CONNECTS_PER_IP it is RATE_LIMITED', async () => {
      let refusal: { extensions?: Record<string, unknown> } | undefined;
      // A budget of 60 per minute (the default, set here since the test
      // helper raises it); a few more attempts than that must hit it. Refused ones count too (and answer at once).
      for (let i = 0; i < 70 && !refusal; i++) {
        const stream = record(undefined, 'any');
        await eventually(() => stream.ended() !== null || stream.results.length > 0, 5000, 'an answer');
        const code = stream.results[0]?.errors?.[0]?.extensions?.code;
        if (code === 'RATE_LIMITED') refusal = stream.results[0]!.errors![0];
        stream.dispose();
      }
      expect(refusal?.extensions?.code).toBe('RATE_LIMITED');
      expect(refusal?.extensions?.retryAfter).toBeGreaterThan(0);
    });
  });
});

describe('GraphQL over SSE and connection slots', () => {
  afterAll(() => stopAllServers());

  it('a stream holds a seat like a socket: past MAX_CONNECTIONS it is refused, and its seat frees when it ends', async () => {
    // A Redis database of its own, so only this test's seats count.
    const redis = new URL(scaledEnv().REDIS_URL!);
    redis.pathname = '/6';
    const server = await startServer({ ...scaledEnv(), REDIS_URL: redis.toString(), MAX_CONNECTIONS: '1' });
    const alice = await account(server, 'sl');
    const bob = await account(server, 'sl');
    const stream = (token: string) => {
      const results: { data?: { connectionSlots: { used: number } } | null; errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }[] = [];
      let done = false;
      const client = createSseClient({ url: `${server.url}/graphql/stream`, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
      const dispose = client.subscribe<{ connectionSlots: { used: number } }>(
        { query: 'subscription { connectionSlots { used } }' },
        { next: (r) => void results.push(r), error: () => (done = true), complete: () => (done = true) },
      );
      return { results, done: () => done, stop: () => (dispose(), client.dispose()) };
    };

    const first = stream(alice.accessToken);
    await eventually(() => first.results.length > 0, 5000, 'the counts');
    expect(first.results[0]!.data?.connectionSlots.used).toBe(1);

    const refused = stream(bob.accessToken);
    await eventually(() => refused.done(), 5000, 'the refusal');
    expect(refused.results[0]?.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');

    first.stop();
    await eventually(async () => (await gql(server, '{ connectionSlots { used } }', {}, { token: bob.accessToken })).data?.connectionSlots.used === 0, 5000, 'the seat freed');
    const admitted = stream(bob.accessToken);
    await eventually(() => admitted.results.length > 0, 5000, 'the counts');
    expect(admitted.results[0]!.data?.connectionSlots.used).toBe(1);
    admitted.stop();
  });
});
