/**
 * Query limits and error masking over real HTTP and WebSocket: depth,
 * aliases, tokens, cost, directives, document size (MAX_QUERY_BYTES),
 * body size and JSON nesting; each refusal carries its documented code and
 * the server keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes, gql, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { openAckedSocket } from './raw-socket.ts';

const maxQueryBytes = 20_000;
let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startServer({ ...scaledEnv(), MAX_QUERY_BYTES: String(maxQueryBytes) });
  token = (await signUp(server)).accessToken;
});
afterAll(stopAllServers);

/** A selection `levels` deep through __type's ofType chain. */
const deepQuery = (levels: number) => `{ __type(name: "Query") { fields { type ${'{ ofType '.repeat(levels)}{ name }${' }'.repeat(levels)} } } }`;
// graphql-armor lets __typename be aliased freely: alias a real field.
const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __type(name: "Query") { name }`).join(' ')} }`;
const directives = (n: number) => `{ ${'__typename @include(if: true) '.repeat(n)}}`;
/** About `n` lexical tokens in a few bytes each (commas are not tokens, so a list of 1s). */
const tokens = (n: number) => `{ __typename(x: [${'1 '.repeat(n)}]) }`;
/** Many scalars four levels down: cheap in tokens, expensive in cost. */
const costly = `{ __type(name: "Query") { fields { type { ofType { ${'name '.repeat(1500)}} } } } }`;

async function post(body: BodyInit, headers: Record<string, string> = {}) {
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as { errors?: { message: string; extensions?: Record<string, unknown> }[]; data?: unknown } };
}

describe('query limits over HTTP', () => {
  it('accepts what is within every limit', async () => {
    const ok = await gql(server, `${deepQuery(4)}`, undefined, { token });
    expect(ok.errors).toBeUndefined();
    expect((await gql(server, aliases(15))).errors).toBeUndefined();
    expect((await gql(server, directives(20))).errors).toBeUndefined();
  });

  it.each([
    ['depth', deepQuery(14), /depth/i],
    ['aliases', aliases(16), /aliases/i],
    ['directives', directives(21), /directives/i],
    ['tokens', tokens(4001), /token/i],
    ['cost', costly, /cost/i],
  ])('refuses a document over the %s limit with BAD_USER_INPUT', async (_limit, query, message) => {
    const response = await gql(server, query, undefined, { token });
    expect(response.data).toBeUndefined();
    expect(new Set(errorCodes(response))).toEqual(new Set(['BAD_USER_INPUT']));
    expect(response.errors!.some((e) => message.test(e.message))).toBe(true);
  });

  it('refuses a document over MAX_QUERY_BYTES with 413 PAYLOAD_TOO_LARGE before parsing it', async () => {
    // Not even valid GraphQL: were it parsed, the answer would be a syntax error.
    const response = await post(JSON.stringify({ query: `{ __typename ${'#'.repeat(maxQueryBytes)} ((( }` }));
    expect(response.status).toBe(413);
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['PAYLOAD_TOO_LARGE']);
    const justUnder = await post(JSON.stringify({ query: `{ __typename }${' '.repeat(maxQueryBytes - 20)}` }));
    expect(justUnder.status).toBe(200);
  });

  it('refuses an oversized body (declared or streamed in chunks) with 413 PAYLOAD_TOO_LARGE', async () => {
    const huge = JSON.stringify({ query: '{ __typename }', variables: { x: 'y'.repeat(1_100_000) } });
    const declared = await post(huge);
    expect(declared.status).toBe(413);
    expect(declared.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    // The unread rest of the body is still on the connection: it is closed, not handed back for the next request.
    expect(declared.headers.get('connection')).toBe('close');
    const bytes = new TextEncoder().encode(huge);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    const chunked = await post(stream);
    expect(chunked.status).toBe(413);
    expect(chunked.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(chunked.headers.get('connection')).toBe('close');
    // And the next request, on whatever connection the client picks, is answered.
    expect((await post(JSON.stringify({ query: '{ __typename }' }))).status).toBe(200);
  });

  it('refuses JSON nested too deep (body or variables) with BAD_USER_INPUT', async () => {
    const deep = `${'['.repeat(40)}${']'.repeat(40)}`;
    const response = await post(`{"query":"{ __typename }","variables":{"x":${deep}}}`);
    expect(response.status).toBe(400);
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    // Brackets inside strings are text, not nesting.
    const inString = await post(JSON.stringify({ query: '{ __typename }', variables: { x: deep } }));
    expect(inString.status).toBe(200);
  });

  it('answers malformed requests with BAD_USER_INPUT, never a stack trace', async () => {
    for (const body of ['{', 'null', '[]', '{"query": 5}', '{"query":"{ __typename "}', '{"query":"{ nope }"}']) {
      const response = await post(body);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      for (const error of response.body.errors ?? []) expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.(ts|js):\d+|node_modules|stack/);
    }
    // Field suggestions would reveal the schema.
    const typo = await gql(server, '{ __typenam }');
    expect(typo.errors?.[0]?.message).not.toMatch(/did you mean/i);
  });
});

describe('query limits on the graphql-sse endpoint', () => {
  it('bounds and checks requests to /graphql/stream like /graphql, with codes and never a stack trace', async () => {
    const stream = (body: string) =>
      fetch(`${server.url}/graphql/stream`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body }).then(async (r) => ({
        status: r.status,
        text: await r.text(),
      }));
    const cases: [string, number, string][] = [
      [JSON.stringify({ query: '{ __typename }', variables: { x: 'y'.repeat(1_100_000) } }), 413, 'PAYLOAD_TOO_LARGE'],
      [JSON.stringify({ query: `{ __typename ${'#'.repeat(maxQueryBytes)} }` }), 413, 'PAYLOAD_TOO_LARGE'],
      [`{"query":"{ __typename }","variables":{"x":${'['.repeat(40)}${']'.repeat(40)}}}`, 400, 'BAD_USER_INPUT'],
      [JSON.stringify({ query: aliases(16) }), 400, 'BAD_USER_INPUT'],
      [JSON.stringify({ query: tokens(4001) }), 400, 'BAD_USER_INPUT'],
      [JSON.stringify({ query: '{ __typename ' }), 400, 'BAD_USER_INPUT'],
      [JSON.stringify({ query: '{ nope }' }), 400, 'BAD_USER_INPUT'],
      ['{"query":', 400, 'BAD_USER_INPUT'],
    ];
    for (const [body, status, code] of cases) {
      const response = await stream(body);
      expect({ status: response.status, body: body.slice(0, 40) }).toEqual({ status, body: body.slice(0, 40) });
      expect(JSON.parse(response.text).errors.map((e: any) => e.extensions.code)).toContain(code);
      expect(response.text).not.toMatch(/\n\s+at |node_modules/);
    }
    const ok = await stream(JSON.stringify({ query: '{ __typename }' }));
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('"__typename":"Query"');
  });
});

describe('query limits over WebSocket', () => {
  it('refuses the same documents on subscribe with the same codes, again when a text comes back, and the socket stays usable', async () => {
    const socket = await openAckedSocket(server.wsUrl, token);
    const cases: [string, string, string][] = [
      ['1', aliases(16), 'BAD_USER_INPUT'],
      ['2', deepQuery(14), 'BAD_USER_INPUT'],
      ['3', tokens(4001), 'BAD_USER_INPUT'],
      ['4', `{ __typename ${'#'.repeat(maxQueryBytes)} }`, 'PAYLOAD_TOO_LARGE'],
      ['5', '{ __typename ', 'BAD_USER_INPUT'],
      ['6', '{ nope }', 'BAD_USER_INPUT'],
    ];
    // The second round finds each text's parse and validation kept by the server: the answers are the same.
    const answers = new Map<string, unknown>();
    for (const round of [1, 2]) {
      for (const [id, query, code] of cases) {
        socket.send({ id: `${round}.${id}`, type: 'subscribe', payload: { query } });
        const error = await socket.next((m) => m?.id === `${round}.${id}`).catch(async (e) => {
          throw new Error(`${e.message} ${JSON.stringify(await socket.closed)}`);
        });
        expect(error.type).toBe('error');
        expect(error.payload.map((e: any) => e.extensions?.code)).toEqual([code]);
        if (round === 1) answers.set(id, error.payload);
        else expect(error.payload).toEqual(answers.get(id));
      }
    }
    socket.send({ id: '7', type: 'subscribe', payload: { query: '{ __typename }', variables: { x: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) } } });
    expect((await socket.next((m) => m?.id === '7')).payload[0].extensions.code).toBe('BAD_USER_INPUT');
    for (const id of ['8', '9']) {
      socket.send({ id, type: 'subscribe', payload: { query: '{ __typename }' } });
      expect(await socket.next((m) => m?.id === id && m.type === 'next')).toMatchObject({ payload: { data: { __typename: 'Query' } } });
    }
    socket.ws.close(1000);
  });

  it('past the 1,024 texts a server keeps parsed, one pushed out is parsed and validated again: the same answers', async () => {
    const socket = await openAckedSocket(server.wsUrl, token);
    const refusedText = aliases(16);
    const answerTo = async (id: string, query: string) => {
      socket.send({ id, type: 'subscribe', payload: { query } });
      return socket.next((m) => m?.id === id && m.type !== 'complete');
    };
    const refusal = await answerTo('first refused', refusedText);
    const accepted = await answerTo('first accepted', '{ __typename }');
    // 1,024 other texts, in flight together: the first two are the oldest kept, and go.
    const others = 1024;
    for (let i = 0; i < others; i++) socket.send({ id: `other ${i}`, type: 'subscribe', payload: { query: `{ __typename } # ${i}` } });
    await socket.next((m) => m?.id === `other ${others - 1}` && m.type === 'complete', 30_000);
    const completed = socket.received.filter((m: any) => m?.type === 'complete' && String(m.id).startsWith('other ')).length;
    expect(completed).toBe(others);
    expect(await answerTo('again refused', refusedText)).toEqual({ ...refusal, id: 'again refused' });
    expect(await answerTo('again accepted', '{ __typename }')).toEqual({ ...accepted, id: 'again accepted' });
    expect(refusal.payload.map((e: any) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(accepted).toMatchObject({ type: 'next', payload: { data: { __typename: 'Query' } } });
    socket.ws.close(1000);
  });

  it('closes a socket that sends a message over the size bound with 1009 before reading it', async () => {
    const socket = await openAckedSocket(server.wsUrl, token);
    socket.send({ id: 'x', type: 'subscribe', payload: { query: `{ __typename ${' '.repeat(1_100_000)} }` } });
    expect((await socket.closed).code).toBe(1009);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
