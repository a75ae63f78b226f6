/**
 * Hostile arguments against a real instance, generated from the served
 * schema: every argument of every query, mutation and subscription (and
 * every field of an input object) gets, one at a time, a value no rule
 * accepts (NUL and other control characters, lone surrogates, strings
 * near the body limit, numbers past 2^31 or negative, malformed base64,
 * ids and cursors of nothing), the other arguments valid. Each must be a
 * documented refusal: never INTERNAL_SERVER_ERROR, never an error-level log
 * line, and nothing stored. Runs are bounded (numRuns, fixed seed).
 * The text rule itself (src/core/text.ts) is checked case by case first.
 */
import { randomUUID } from 'node:crypto';
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
  GraphQLUnionType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectSocket, gql, scaledEnv, startServer, stopAllServers, uniqueName, type GraphQLResponse, type TestServer } from '../helpers/server.ts';
import { logIn, signUp, type TestAccount } from '../helpers/accounts.ts';
import { withDatabase } from '../helpers/env.ts';
import { createRoom, JOIN, SEND } from '../rooms/helpers.ts';

const documentedCodes = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'ROOM_FULL', 'PAYLOAD_TOO_LARGE']);
const maxLength = 10;

let server: TestServer;
let owner: TestAccount;
/** A second user: the target of admin operations and invitations. */
let other: TestAccount;
let adminToken: string;
let roomId: string;
const adminUser = uniqueName('hostileadmin');

beforeAll(async () => {
  server = await startServer({ ...scaledEnv(), ADMIN_USER: adminUser, ADMIN_PASS: 'hostile-admin-password', MESSAGE_MAX_LENGTH: String(maxLength) });
  [owner, other] = await Promise.all([signUp(server), signUp(server)]);
  adminToken = (await logIn(server, adminUser, 'hostile-admin-password')).accessToken;
  roomId = (await createRoom(server, owner.accessToken, { name: 'hostile' })).id;
  await gql(server, JOIN, { id: roomId }, { token: other.accessToken });
  await gql(server, SEND, { id: roomId, body: 'first' }, { token: owner.accessToken });
});
afterAll(stopAllServers);

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const errorLines = () => server.logs.filter((line) => /"level":(50|60)/.test(line));
const refusal = (response: GraphQLResponse) => response.errors?.[0]?.extensions;

describe('the text rule and numbers that reach the database', () => {
  it('a message cursor past 2^31 is BAD_USER_INPUT naming its argument, over HTTP and WebSocket', async () => {
    const past = b64('m:2147483648');
    const page = await gql(server, 'query($id: ID!, $before: String) { messages(roomId: $id, before: $before) { edges { cursor } } }', { id: roomId, before: past }, { token: owner.accessToken });
    expect(refusal(page)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'before' });

    const socket = connectSocket(server, { token: owner.accessToken });
    await socket.acked;
    const stream = collect(socket.client, 'subscription($id: ID!, $after: String) { roomMessages(roomId: $id, after: $after) { id } }', { id: roomId, after: past });
    await stream.done;
    expect((stream.error as { extensions?: unknown }[])?.[0]?.extensions ?? stream.results[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    await socket.client.dispose();
    expect(errorLines()).toEqual([]);
  });

  it('names refuse every control character; bodies refuse all but newline and tab; lone surrogates nowhere', async () => {
    const create = (name: string) => gql(server, 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { name } }', { input: { name } }, { token: owner.accessToken });
    const rename = (name: string) => gql(server, 'mutation($id: ID!, $name: String) { updateRoom(id: $id, input: { name: $name }) { name } }', { id: roomId, name }, { token: owner.accessToken });
    const send = (body: string) => gql(server, SEND, { id: roomId, body }, { token: owner.accessToken });
    for (const bad of ['a\u0000b', 'a\nb', 'a\tb', 'a\u001bb', 'a\u007fb', 'a\u0085b', 'a\ud800b', 'a\udc00']) {
      expect(refusal(await create(bad)), JSON.stringify(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
      expect(refusal(await rename(bad)), JSON.stringify(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    }
    for (const bad of ['a\u0000b', 'a\rb', 'a\u001bb', 'a\u007fb', 'a\u0085b', 'a\ud800b', '\udc00']) {
      expect(refusal(await send(bad)), JSON.stringify(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'body' });
    }
    expect((await send('line\n\tline')).data?.sendMessage.body).toBe('line\n\tline');
    const register = (username: string) =>
      gql(server, 'mutation($input: RegisterInput!) { register(input: $input) { id } }', { input: { username, email: `${uniqueName('e')}@example.test`, password: 'password-1' } });
    expect(refusal(await register('ab\u0000cd'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'username' });
    const login = await gql(server, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', { input: { login: `${owner.username}\u0000`, password: owner.password } });
    expect(refusal(login)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'login' });
    const audit = await gql(server, 'query($kind: String) { auditLog(kind: $kind) { edges { cursor } } }', { kind: 'login\u0000' }, { token: adminToken });
    expect(refusal(audit)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'kind' });
    const key = await gql(server, SEND, { id: roomId, body: 'keyed', key: 'k\u0000' }, { token: owner.accessToken });
    expect(refusal(key)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
    expect(errorLines()).toEqual([]);
  });

  it('lengths count code points: an emoji is one character', async () => {
    const emoji = '\u{1F600}';
    const send = (body: string) => gql(server, SEND, { id: roomId, body }, { token: owner.accessToken });
    expect((await send(emoji.repeat(maxLength))).data?.sendMessage.body).toBe(emoji.repeat(maxLength));
    expect(refusal(await send(emoji.repeat(maxLength + 1)))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'body' });
    expect((await createRoom(server, owner.accessToken, { name: emoji.repeat(100) })).name).toBe(emoji.repeat(100));
    const long = await gql(server, 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { name } }', { input: { name: emoji.repeat(101) } }, { token: owner.accessToken });
    expect(refusal(long)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
  });
});

/** Strings no text rule accepts (and no token, id or cursor matches). */
const hostileText = ['', 'abc\u0000defgh', 'abc\ud800defgh', 'abc\udc00defgh', '\udbff', 'abc\u001bdefgh', 'abc\u007fdefgh', 'abc\u0085defgh', 'x'.repeat(900_000), 'x'.repeat(1_100_000)];
/** Ids and cursors that name nothing, or nothing a column can hold. */
const hostileIds = [
  '%%%not base64%%%',
  b64('m:2147483648'),
  b64('m:99999999999999'),
  b64('m:-1'),
  b64(`room:${'-'.repeat(36)}`),
  b64('room:zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'),
  b64(`room:1:${'-'.repeat(36)}`),
  b64(`room:8640000000000001:${randomUUID()}`),
  b64('audit:99999999999999999999'),
  b64('audit:9223372036854775808'),
  encodeGlobalID('Room', '1'),
  encodeGlobalID('Room', '\u0000'),
  encodeGlobalID('Room', randomUUID()),
  encodeGlobalID('User', randomUUID()),
  encodeGlobalID('Message', randomUUID()),
  encodeGlobalID('User', 'x'.repeat(10_000)),
];
/** Ints outside every documented range (first, last: 0 to 100 or 200; maxMembers: 1 to 100000), and not Ints at all. */
const hostileInts: unknown[] = [2 ** 31, -(2 ** 31) - 1, 2 ** 31 - 1, -1, 1e20, -1e20, 1.5, '1', true];

/** A valid value for a required argument, by name (and field, where the name means different things). */
function validArgument(field: string, arg: GraphQLArgument): unknown {
  const input = getNamedType(arg.type);
  if (input instanceof GraphQLInputObjectType) {
    if (input.name === 'CreateRoomInput') return { name: 'fuzzed room' };
    if (input.name === 'UpdateRoomInput') return {};
    if (input.name === 'LoginInput') return { login: other.username, password: 'not-the-password' };
    if (input.name === 'RegisterInput') return { username: uniqueName('h'), email: `${uniqueName('e')}@example.test`, password: 'password-1' };
    return {};
  }
  if (input instanceof GraphQLEnumType) return input.getValues()[0]!.value;
  if (arg.name === 'roomId') return roomId;
  if (arg.name === 'userId' || (arg.name === 'id' && field === 'deleteUser')) return other.id;
  if (arg.name === 'id') return roomId;
  if (arg.name === 'roles') return ['member'];
  return 'valid-text';
}

/** The hostile values for an argument (or input field) of this type. */
function hostileValues(name: string, type: GraphQLInputType): unknown[] {
  const named = getNamedType(type);
  const list = type instanceof GraphQLNonNull ? type.ofType instanceof GraphQLList : type instanceof GraphQLList;
  let values: unknown[];
  if (named.name === 'Int') values = hostileInts;
  else if (named instanceof GraphQLEnumType) values = ['NOT_A_VALUE', 1];
  else if (named instanceof GraphQLInputObjectType) values = ['x', 1, []];
  else if (named.name === 'ID' || name === 'after' || name === 'before') values = [...hostileText, ...hostileIds];
  else values = hostileText;
  return list ? [...values.map((v) => [v]), ...values.slice(0, 2)] : values;
}

interface Case {
  kind: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
  /** The argument (and input field, for an input object) made hostile. */
  arg: string;
  inputField?: string;
  values: unknown[];
}

/** Every argument and input field of every root field, with its hostile values. */
function casesOf(schema: GraphQLSchema): Case[] {
  const roots = [['query', schema.getQueryType()], ['mutation', schema.getMutationType()], ['subscription', schema.getSubscriptionType()]] as const;
  return roots.flatMap(([kind, type]) =>
    Object.values(type?.getFields() ?? {})
      // Ending the caller's own session would only make later runs anonymous ones.
      .filter((field) => field.name !== 'logout')
      .flatMap((field) =>
        field.args.flatMap((arg): Case[] => {
          const named = getNamedType(arg.type);
          const own = { kind, field, arg: arg.name, values: hostileValues(arg.name, arg.type) };
          if (!(named instanceof GraphQLInputObjectType)) return [own];
          return [own, ...Object.values(named.getFields()).map((f) => ({ kind, field, arg: arg.name, inputField: f.name, values: hostileValues(f.name, f.type) }))];
        }),
      ),
  );
}

/** The operation of a case: every argument as a variable, required ones valid, the hostile one set. */
function operation(c: Case, value: unknown): { query: string; variables: Record<string, unknown> } {
  const variables: Record<string, unknown> = {};
  for (const arg of c.field.args) {
    if (arg.name === c.arg) variables[arg.name] = c.inputField ? { ...(validArgument(c.field.name, arg) as object), [c.inputField]: value } : value;
    else if (isNonNullType(arg.type)) variables[arg.name] = validArgument(c.field.name, arg);
  }
  const used = c.field.args.filter((arg) => arg.name in variables);
  const definitions = used.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
  const named = getNamedType(c.field.type);
  const selection = named instanceof GraphQLObjectType || named instanceof GraphQLInterfaceType || named instanceof GraphQLUnionType ? '{ __typename }' : '';
  const args = used.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  return { query: `${c.kind}${definitions ? `(${definitions})` : ''} { ${c.field.name}${args ? `(${args})` : ''} ${selection} }`, variables };
}

/**
 * What must not change: every row of the tables a request could write,
 * and the audit trail but for failed password checks (recorded by design:
 * deleteAccount with a wrong password is a failed login).
 */
/** Refusals that are audited by design (a failed check, a spent budget, a refused socket): they store an event, not data. */
const refusalsAuditedByDesign = "('login_failed', 'rate_limited', 'connection_rejected', 'second_factor_failed', 'oidc_failed')";

const snapshot = (client: pg.Client) =>
  client
    .query(
      `SELECT ${['User', 'Session', 'RefreshToken', 'Room', 'RoomMember', 'RoomInvite', 'Message']
        .map((table) => `(SELECT md5(COALESCE(string_agg(t::text, ',' ORDER BY t::text), '')) FROM "${table}" t) AS "${table}"`)
        .join(', ')},
        (SELECT count(*) FROM "AuditEvent" WHERE kind NOT IN ${refusalsAuditedByDesign}) AS "audit"`,
    )
    .then((result) => result.rows[0] as Record<string, string>);

describe('hostile arguments generated from the schema', () => {
  it('every argument of every operation: a documented refusal, no error log, nothing stored', async () => {
    const schema = buildClientSchema((await gql(server, getIntrospectionQuery())).data);
    const cases = casesOf(schema);
    // The schema's arguments are all reached: every root field that takes one.
    expect(new Set(cases.map((c) => c.field.name))).toEqual(
      new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) => Object.values(t!.getFields()).filter((f) => f.args.length && f.name !== 'logout').map((f) => f.name))),
    );
    const socket = connectSocket(server, { token: owner.accessToken });
    await socket.acked;
    const tokens = { admin: adminToken, owner: owner.accessToken, none: undefined };
    const seen = new Set<string>();
    await withDatabase(async (client) => {
      const before = await snapshot(client);
      // Indexes, so that a counterexample prints short (`where` below names the operation).
      const pick = fc.integer({ min: 0, max: cases.length - 1 }).chain((i) => fc.tuple(fc.constant(i), fc.nat({ max: cases[i]!.values.length - 1 })));
      await fc.assert(
        fc.asyncProperty(pick, fc.constantFrom(...(Object.keys(tokens) as (keyof typeof tokens)[])), async ([caseIndex, valueIndex], who) => {
          const c = cases[caseIndex]!;
          const value = c.values[valueIndex];
          // A WebSocket message over 1 MiB closes the socket (graphql-ws' own limit): that is the limits suite's.
          if (c.kind === 'subscription' && typeof value === 'string' && value.length > 1_000_000) return;
          const { query, variables } = operation(c, value);
          const where = `${who}: ${query} ${JSON.stringify(variables).slice(0, 200)}`;
          let errors: GraphQLResponse['errors'];
          if (c.kind === 'subscription') {
            // Over the WebSocket, as the owner: a hostile argument ends the subscription at once with an error.
            const stream = collect(socket.client, query, variables);
            const ended = await Promise.race([stream.done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
            stream.unsubscribe();
            expect(ended, `${where}: still streaming`).toBe(true);
            errors = Array.isArray(stream.error) ? stream.error : stream.results.flatMap((r) => r.errors ?? []);
            expect(errors?.length, where).toBeGreaterThan(0);
          } else {
            const response = await gql(server, query, variables, { token: tokens[who] });
            expect([200, 400, 413], where).toContain(response.status);
            errors = response.errors;
            // Anything but a refusal means the hostile value was taken; only reads of nothing may answer.
            if (!errors?.length) expect(c.kind, where).toBe('query');
          }
          for (const error of errors ?? []) {
            seen.add(String(error.extensions?.code));
            expect(documentedCodes.has(String(error.extensions?.code)), `${where}: ${JSON.stringify(error)}`).toBe(true);
          }
          expect(errorLines(), where).toEqual([]);
          expect(await snapshot(client), where).toEqual(before);
          }),
        { numRuns: 1000, seed: 20261207 },
      );
    });
    await socket.client.dispose();
    expect(seen.has('BAD_USER_INPUT')).toBe(true);
    // Still up, and nothing at error level was logged after the last answer either.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(server.process.exitCode).toBeNull();
    expect(errorLines()).toEqual([]);
  }, 180_000); // 1000 fixed runs, each a few requests: bounded by the run count; the limit is only for a hung server.
});
