/**
 * Fuzzing with fast-check against a real instance: random GraphQL documents,
 * variables and raw bodies over HTTP, and random or malformed graphql-ws
 * traffic over raw WebSockets (non-JSON, unknown types, subscribe before
 * ack, duplicate and huge ids, binary frames). Every answer must be a
 * documented error code or close code; the server must stay up with no
 * unhandled rejection, and every socket and seat must be released.
 * Runs are bounded (numRuns) and seeded by fast-check (printed on failure).
 */
import fc from 'fast-check';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  isNonNullType,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLScalarType,
  type GraphQLSchema,
} from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeWithin, eventually, gql, metric, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { logIn, signUp, type TestAccount } from '../helpers/accounts.ts';
import { openRawSocket, type RawSocket } from './raw-socket.ts';

const documentedCodes = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'ROOM_FULL', 'PAYLOAD_TOO_LARGE']);
/** Close codes a fuzzed socket may get: normal, too big, graphql-ws protocol faults, and ours. */
const documentedCloses = new Set([1000, 1005, 1009, 4400, 4401, 4403, 4408, 4409, 4429, 4001, 4002, 4003, 4029]);

let server: TestServer;
/** One account per test: HTTP fuzzing may log its own out. */
let account: TestAccount;

const adminUser = uniqueName('fuzzadmin');
beforeAll(async () => {
  server = await startServer({ ...scaledEnv(), MAX_QUERY_BYTES: '5000', ADMIN_USER: adminUser, ADMIN_PASS: 'fuzz-admin-password' });
});
beforeEach(async () => {
  account = await signUp(server);
});
afterAll(stopAllServers);

/** The server answered like a documented refusal or a result: never a stack, never an internal error. */
function expectDocumented(body: unknown, where: string) {
  const errors = (body as { errors?: { extensions?: { code?: string } }[] } | null)?.errors ?? [];
  for (const error of errors) {
    if (!documentedCodes.has(String(error?.extensions?.code))) throw new Error(`${where}: undocumented error ${JSON.stringify(error)}`);
  }
  expect(JSON.stringify(body ?? null)).not.toMatch(/node_modules|\.ts:\d+|\n\s+at /);
}

const words = ['{', '}', '(', ')', '[', ']', ':', '=', '!', '$', '@', '...', ',', '|', '&', 'query', 'mutation', 'subscription', 'fragment', 'on', 'me', 'id', 'username', 'roles', 'email',
  '__typename', '__schema', '__type', 'types', 'name', 'login', 'register', 'input', 'refresh', 'logout', 'rooms', 'first', 'after', 'auditLog', 'node', 'serverLog', 'level', 'x', 'a', 'String',
  'Int', 'ID', 'true', 'false', 'null', '1', '-1', '1e309', '"s"', '"""block"""', '"\\u0000"', '#comment\n', '@skip(if: true)', '@include(if: $v)', '$v', 'edges', 'cursor'];

const document = fc.oneof(
  fc.array(fc.constantFrom(...words), { maxLength: 60 }).map((tokens) => tokens.join(' ')),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.constantFrom('{ me { username } }', 'query Q($v: Boolean!) { me { id @include(if: $v) } }', 'mutation { logout }', '{ node(id: "x") { id } }', 'subscription { serverLog { message } }'),
);
const variables = fc.option(fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 5 }), { nil: undefined });

/** A random value literal for an input type (sometimes of the wrong kind, which must be refused cleanly). */
function literalOf(type: GraphQLInputType, depth = 0): fc.Arbitrary<string> {
  const wrong = fc.constantFrom('null', '"x"', '1', 'true', '[]', '{}');
  if (type instanceof GraphQLNonNull) return literalOf(type.ofType, depth);
  if (type instanceof GraphQLList) return depth > 2 ? fc.constant('[]') : fc.array(literalOf(type.ofType, depth + 1), { maxLength: 3 }).map((v) => `[${v.join(', ')}]`);
  if (type instanceof GraphQLEnumType) return fc.oneof({ arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)), weight: 4 }, { arbitrary: wrong, weight: 1 });
  if (type instanceof GraphQLInputObjectType) {
    if (depth > 2) return fc.constant('{}');
    const fields = Object.values(type.getFields());
    return fc
      .tuple(...fields.map((f) => fc.option(literalOf(f.type, depth + 1), { nil: undefined, freq: isNonNullType(f.type) ? 10 : 2 })))
      .map((values) => `{ ${fields.flatMap((f, i) => (values[i] === undefined ? [] : [`${f.name}: ${values[i]}`])).join(', ')} }`);
  }
  const name = (type as GraphQLScalarType).name;
  const scalar =
    name === 'Int' ? fc.integer({ min: -5, max: 200 }).map(String)
    : name === 'Float' ? fc.double({ noNaN: true, noDefaultInfinity: true }).map(String)
    : name === 'Boolean' ? fc.boolean().map(String)
    : fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', 'admin', 'Um9vbTox', 'VXNlcjox', '2026-01-01T00:00:00Z')).map((v) => JSON.stringify(v));
  return fc.oneof({ arbitrary: scalar, weight: 5 }, { arbitrary: wrong, weight: 1 });
}

/** A random selection set on `type`, at most `depth` levels deep. */
function selectionOf(type: GraphQLOutputType, depth: number): fc.Arbitrary<string> {
  const named = getNamedType(type);
  if (!(named instanceof GraphQLObjectType || named instanceof GraphQLInterfaceType)) return fc.constant('');
  const fields = Object.values(named.getFields()).filter((f) => f.args.every((a) => !isNonNullType(a.type)));
  const leaves = fields.filter((f) => !(getNamedType(f.type) instanceof GraphQLObjectType || getNamedType(f.type) instanceof GraphQLInterfaceType));
  if (depth <= 0 || fields.length === 0) return fc.constant(`{ ${leaves[0]?.name ?? '__typename'} }`);
  return fc
    .subarray(fields, { minLength: 1, maxLength: Math.min(4, fields.length) })
    .chain((picked) => fc.tuple(...picked.map((f) => selectionOf(f.type, depth - 1).map((sub) => `${f.name} ${sub}`))))
    .map((parts) => `{ ${parts.join(' ')} }`);
}

/** A random query or mutation on one root field of `schema`, with literal arguments. */
function operationOf(schema: GraphQLSchema): fc.Arbitrary<string> {
  const roots = [schema.getQueryType(), schema.getMutationType()].flatMap((t) => (t ? Object.values(t.getFields()).map((f) => [t === schema.getQueryType() ? 'query' : 'mutation', f] as const) : []));
  // Ending the session would only make the later runs anonymous ones.
  const usable = roots.filter(([, f]) => !['logout', 'deleteAccount'].includes(f.name));
  return fc.constantFrom(...usable).chain(([kind, field]) =>
    fc
      .tuple(
        fc.tuple(...field.args.map((a) => fc.option(literalOf(a.type), { nil: undefined, freq: isNonNullType(a.type) ? 20 : 2 }))),
        selectionOf(field.type, 2),
      )
      .map(([values, selection]) => {
        const args = field.args.flatMap((a, i) => (values[i] === undefined ? [] : [`${a.name}: ${values[i]}`]));
        return `${kind} { ${field.name}${args.length ? `(${args.join(', ')})` : ''} ${selection} }`;
      }),
  );
}

describe('HTTP fuzz', () => {
  it('random documents and variables get results or documented errors', async () => {
    await fc.assert(
      fc.asyncProperty(document, variables, fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), fc.boolean(), fc.constantFrom('/graphql', '/graphql/stream'), async (query, vars, operationName, withToken, path) => {
        const response = await fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: path === '/graphql' ? 'application/json' : 'text/event-stream', ...(withToken ? { authorization: `Bearer ${account.accessToken}` } : {}) },
          body: JSON.stringify({ query, variables: vars, operationName }),
          signal: AbortSignal.timeout(5000),
        });
        expect([200, 400, 401, 403, 413]).toContain(response.status);
        const type = response.headers.get('content-type') ?? '';
        if (type.includes('json')) expectDocumented(await response.json(), `POST ${path} ${JSON.stringify(query)}`);
        else if (type.includes('event-stream')) {
          // A stream that goes on (a live subscription) is cut after its first event.
          const reader = response.body!.getReader();
          const first = await reader.read();
          await reader.cancel();
          const text = new TextDecoder().decode(first.value ?? new Uint8Array());
          expect(text).not.toMatch(/node_modules|\n\s+at /);
          for (const line of text.split('\n')) if (line.startsWith('data: {')) expectDocumented(JSON.parse(line.slice(6)), `SSE ${JSON.stringify(query)}`);
        } else await response.body?.cancel();
      }),
      { numRuns: 250 },
    );
  });

  it('random well-typed operations built from the served schema get results or documented errors', async () => {
    const schema = buildClientSchema((await gql(server, getIntrospectionQuery())).data);
    await fc.assert(
      fc.asyncProperty(operationOf(schema), fc.boolean(), async (query, withToken) => {
        const response = await gql(server, query, undefined, withToken ? { token: account.accessToken } : {});
        expect([200, 400, 413]).toContain(response.status);
        expectDocumented(response, `typed ${query}`);
      }),
      { numRuns: 200 },
    );
  });

  it('random raw bodies, content types and methods get documented errors', async () => {
    const body = fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 5 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), fc.constant('{"query":'), fc.constant(`${'['.repeat(64)}`));
    const contentType = fc.constantFrom('application/json', 'application/graphql', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '');
    await fc.assert(
      fc.asyncProperty(body, contentType, fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE'), async (raw, type, method) => {
        const response = await fetch(server.graphqlUrl, { method, headers: type ? { 'content-type': type } : {}, body: raw });
        expect(response.status).toBeLessThan(500);
        const text = await response.text();
        if ((response.headers.get('content-type') ?? '').includes('json') && text) expectDocumented(JSON.parse(text), `${method} ${type}`);
      }),
      { numRuns: 150 },
    );
  });
});

const validSubscribe = fc
  .record({
    id: fc.constantFrom('1', '2', '3'),
    type: fc.constant('subscribe'),
    payload: fc.constantFrom('{ me { username } }', '{ __typename }', 'subscription { serverLog { message } }', '{ a: __type(name: "Query") { name } }').map((query) => ({ query })),
  })
  .map((m) => JSON.stringify(m));

/** One fuzzed graphql-ws frame. */
const frame = (token: string) =>
  fc.oneof(
    // Well-formed subscribes weigh more, so that acknowledged sockets run operations too.
    { arbitrary: validSubscribe, weight: 6 },
    fc.string({ maxLength: 100 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.constant(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
    fc.constant(JSON.stringify({ type: 'connection_init', payload: { token: 'not-a-jwt' } })),
    fc.constant(JSON.stringify({ type: 'connection_init' })),
    fc.constantFrom('ping', 'pong', 'complete', 'unknown', 'next', 'error', 'connection_ack', 'subscribe', '').map((type) => JSON.stringify({ type })),
    fc.record({
      id: fc.oneof(fc.constantFrom('1', '2', ''), fc.string({ maxLength: 8 }), fc.constant('i'.repeat(20_000)), fc.integer()),
      type: fc.constantFrom('subscribe', 'complete'),
      payload: fc.oneof(
        // The socket's session must outlive the run: no logout here (HTTP fuzzing covers it).
        fc.record({ query: document.filter((d) => !d.includes('logout')), variables }),
        fc.constant({ query: 'subscription { serverLog { message } }' }),
        fc.constant({ query: '{ me { username } }' }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    }).map((m) => JSON.stringify(m)),
  );

describe('WebSocket fuzz', () => {
  it('random and malformed graphql-ws frames get documented messages or close codes, and everything is released', async () => {
    const closes = new Map<number, number>();
    const stats = { acked: 0, answered: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(frame(account.accessToken), { minLength: 1, maxLength: 12 }), fc.boolean(), async (frames, initFirst) => {
        const socket = await openRawSocket(server.wsUrl);
        if (initFirst) {
          socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${account.accessToken}` } });
          await socket.next((m) => m?.type === 'connection_ack');
          stats.acked++;
        }
        for (const f of frames) {
          socket.send(f);
          // A short gap lets answers come back before a later frame may end the socket.
          await closeWithin(socket, 5);
        }
        await closeWithin(socket, 150);
        if (socket.ws.readyState === socket.ws.OPEN) socket.ws.close(1000);
        const { code } = await socket.closed;
        closes.set(code, (closes.get(code) ?? 0) + 1);
        if (!documentedCloses.has(code)) throw new Error(`undocumented close ${code}`);
        for (const message of socket.received) {
          const m = message as { type?: string; payload?: unknown };
          if (m?.type === 'next' || m?.type === 'error') stats.answered++;
          expect(['connection_ack', 'next', 'error', 'complete', 'ping', 'pong']).toContain(m?.type);
          if (m.type === 'error') expectDocumented({ errors: m.payload }, 'ws error');
          if (m.type === 'next') expectDocumented(m.payload, 'ws next');
        }
      }),
      { numRuns: 60 },
    );
    // The fuzz reached both the protocol's refusals and acknowledged sockets running operations.
    expect([...closes.keys()].some((code) => code >= 4400)).toBe(true);
    expect(stats.acked).toBeGreaterThan(10);
    expect(stats.answered).toBeGreaterThan(5);

    // Still up, nothing leaked, nothing unhandled.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(server.process.exitCode).toBeNull();
    expect(server.logs.join('\n')).not.toMatch(/unhandled rejection|uncaught|"level":50/i);
    await eventually(async () => (await metric(server, 'switchboard_open_sockets')) === 0, 10_000, 'open sockets back to 0');
    const hasSlots = await gql(server, '{ __type(name: "Query") { fields { name } } }');
    if (hasSlots.data.__type.fields.some((f: { name: string }) => f.name === 'connectionSlots')) {
      await eventually(async () => (await gql(server, '{ connectionSlots { used } }', undefined, { token: account.accessToken })).data?.connectionSlots.used === 0, 10_000, 'seats back to 0');
    }
  });

  it('protocol violations get their graphql-ws close codes', async () => {
    const token = account.accessToken;
    // An admin's serverLog subscription stays open, so that a second one under its id is a duplicate.
    const adminToken = (await logIn(server, adminUser, 'fuzz-admin-password')).accessToken;
    const cases: [string, (s: RawSocket) => void | Promise<void>, number][] = [
      ['subscribe before ack', (s) => s.send({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } }), 4401],
      ['non-JSON', (s) => s.send('not json'), 4400],
      ['unknown type', (s) => s.send({ type: 'shout' }), 4400],
      ['binary frame', (s) => s.send(Buffer.from([0xff, 0x00, 0x7b])), 4400],
      ['second init', (s) => (s.send({ type: 'connection_init', payload: { token } }), s.send({ type: 'connection_init', payload: { token } })), 4429],
      ['bad token', (s) => s.send({ type: 'connection_init', payload: { token: 'x.y.z' } }), 4403],
      ['client sends connection_ack', (s) => s.send({ type: 'connection_ack' }), 4400],
      ['client sends next', (s) => s.send({ id: '1', type: 'next', payload: {} }), 4400],
      ['duplicate id', async (s) => {
        s.send({ type: 'connection_init', payload: { token: adminToken } });
        await s.next((m) => m?.type === 'connection_ack');
        s.send({ id: 'dup', type: 'subscribe', payload: { query: 'subscription { serverLog { message } }' } });
        s.send({ id: 'dup', type: 'subscribe', payload: { query: 'subscription { serverLog { message } }' } });
      }, 4409],
    ];
    for (const [name, act, expected] of cases) {
      const socket = await openRawSocket(server.wsUrl);
      await act(socket);
      const closed = await closeWithin(socket, 5000);
      expect({ name, code: closed === 'still open' ? closed : closed.code }).toEqual({ name, code: expected });
    }
  });
});
