/** Accounts, rooms and SDK clients for the client tests, over real HTTP. */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { buildSchema, isObjectType } from 'graphql';
import WebSocket from 'ws';
import { SwitchboardClient, type SwitchboardClientOptions } from '../../client/sdk.ts';
import { gql, uniqueName, type TestServer } from '../helpers/server.ts';

const servedSchema = buildSchema(readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'));

/**
 * True when the committed schema (schema/schema.graphql) serves every one of
 * these `Type.field`s. Client tests that need a part of the server still
 * being built are skipped, visibly, until it lands; then they run.
 */
export function serves(...fields: string[]): boolean {
  return fields.every((name) => {
    const [typeName, fieldName] = name.split('.') as [string, string];
    const type = servedSchema.getType(typeName);
    return isObjectType(type) && fieldName in type.getFields();
  });
}

/** Every field the client's documents (client/documents.ts) use at the top level, plus User.presence. */
export const clientFields = [
  'Query.me', 'Query.rooms', 'Query.room', 'Query.messages', 'Query.onlineUsers', 'Query.connectionSlots',
  'Mutation.login', 'Mutation.register', 'Mutation.refresh', 'Mutation.logout', 'Mutation.createRoom', 'Mutation.joinRoom',
  'Mutation.leaveRoom', 'Mutation.sendMessage', 'Mutation.setPresence',
  'Subscription.roomMessages', 'Subscription.roomPresence', 'Subscription.presence', 'Subscription.connectionSlots',
  'User.presence', 'Message.cursor',
];

/** The whole client API is served (see `serves`). */
export const clientApiServed = serves(...clientFields);

export interface TestAccount {
  username: string;
  password: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
}

export const password = 'correct horse battery';

/** Registers a fresh user and signs in over HTTP. */
export async function account(server: Pick<TestServer, 'graphqlUrl'>, prefix = 'c'): Promise<TestAccount> {
  const username = uniqueName(prefix);
  const registered = await gql(server, 'mutation ($input: RegisterInput!) { register(input: $input) { id } }', {
    input: { username, email: `${username}@example.test`, password },
  });
  if (registered.errors) throw new Error(`register failed: ${JSON.stringify(registered.errors)}`);
  const login = await gql(server, 'mutation ($input: LoginInput!) { login(input: $input) { accessToken refreshToken user { id } } }', {
    input: { login: username, password },
  });
  if (login.errors) throw new Error(`login failed: ${JSON.stringify(login.errors)}`);
  return { username, password, userId: login.data.login.user.id, accessToken: login.data.login.accessToken, refreshToken: login.data.login.refreshToken };
}

/** A room owned by `owner` that each of `members` joined. */
export async function room(server: Pick<TestServer, 'graphqlUrl'>, owner: { accessToken: string }, members: { accessToken: string }[] = []): Promise<string> {
  const created = await gql(server, 'mutation ($input: CreateRoomInput!) { createRoom(input: $input) { id } }', { input: { name: uniqueName('room') } }, { token: owner.accessToken });
  if (created.errors) throw new Error(`createRoom failed: ${JSON.stringify(created.errors)}`);
  const roomId = created.data.createRoom.id as string;
  for (const member of members) {
    const joined = await gql(server, 'mutation ($id: ID!) { joinRoom(roomId: $id) { id } }', { id: roomId }, { token: member.accessToken });
    if (joined.errors) throw new Error(`joinRoom failed: ${JSON.stringify(joined.errors)}`);
  }
  return roomId;
}

const clients = new Set<SwitchboardClient>();

/** An SDK client for `server` (Node: ws as the WebSocket); closed by `closeClients`. */
export function sdk(server: Pick<TestServer, 'graphqlUrl'>, options: Partial<SwitchboardClientOptions> = {}): SwitchboardClient {
  const client = new SwitchboardClient({ url: server.graphqlUrl, webSocketImpl: WebSocket, retryDelay: 100, maxRetryDelay: 1000, ...options });
  clients.add(client);
  return client;
}

export function closeClients(): void {
  for (const client of clients) client.close();
  clients.clear();
}

/** Waits until `client` has a status, or fails after `timeoutMs`. */
export function statusOf(client: SwitchboardClient, wanted: SwitchboardClient['status'], timeoutMs = 10_000): Promise<void> {
  if (client.status === wanted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`status stayed ${client.status}, wanted ${wanted}`));
    }, timeoutMs);
    const off = client.on('status', (status) => {
      if (status !== wanted) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/**
 * A loopback TCP proxy in front of a server: `drop()` cuts every connection
 * through it (a network drop) and `target` may point at another instance.
 */
export async function tcpProxy(target: { port: number }) {
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((downstream) => {
    const upstream = net.connect(target.port, '127.0.0.1');
    sockets.add(downstream).add(upstream);
    const cut = () => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    downstream.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as net.AddressInfo;
  return {
    target,
    graphqlUrl: `http://127.0.0.1:${port}/graphql`,
    drop() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

export const portOf = (server: Pick<TestServer, 'url'>) => Number(new URL(server.url).port);
