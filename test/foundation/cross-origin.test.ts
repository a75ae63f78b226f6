/**
 * Cross-origin defaults and small HTTP hardening, over real HTTP against
 * real instances: no CORS grant for a foreign origin and 403 for its
 * preflight; ALLOWED_ORIGINS grants with credentials; forms, multipart and
 * text/plain POSTs run nothing (415); the cookie-only refresh needs
 * CSRF_HEADER; invalid JSON is 400; __typename aliases count; GraphiQL has
 * its security headers; INTROSPECTION=false; the /metrics warning at start.
 * The browser's side of it is test/clients/cross-origin.test.ts.
 */
import { hostname } from 'node:os';
import { lookup } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '../../src/core/codes.ts';
import { isLoopbackHost } from '../../src/plugins/metrics.ts';
import { account } from '../clients/helpers.ts';
import { connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, sharedServer, type TestServer } from '../helpers/server.ts';

afterAll(stopAllServers);

const foreign = 'http://evil.test';
const listed = 'http://app.test';

const preflight = (server: TestServer, origin: string, requestHeaders = 'content-type') =>
  fetch(server.graphqlUrl, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders } });

const corsHeaders = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));

const post = (server: TestServer, body: string, headers: Record<string, string>) => fetch(server.graphqlUrl, { method: 'POST', headers, body });

const register = (username: string) => ({
  query: 'mutation ($input: RegisterInput!) { register(input: $input) { id } }',
  variables: { input: { username, email: `${username}@example.test`, password: 'correct horse battery' } },
});

// One instance on scaledEnv() alone serves the same-origin tests and is the quiet one of the /metrics warning test:
// the same settings, and a start costs seconds of CPU (test/helpers/server.ts).
const defaultServer = sharedServer(scaledEnv());

/** Whether `username` exists: registering it again is then a CONFLICT. */
async function exists(server: TestServer, username: string): Promise<boolean> {
  const again = await gql(server, register(username).query, register(username).variables);
  return errorCodes(again).includes('CONFLICT');
}

describe('ALLOWED_ORIGINS unset: same origin only', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await defaultServer();
  });

  it('refuses a foreign preflight with 403 and gives a foreign origin no CORS header at all', async () => {
    const refused = await preflight(server, foreign, `content-type, ${CSRF_HEADER}`);
    expect(refused.status).toBe(403);
    expect(corsHeaders(refused)).toEqual([]);

    const answered = await post(server, JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', origin: foreign });
    expect(answered.status).toBe(200);
    expect(corsHeaders(answered)).toEqual([]);
    expect(answered.headers.get('vary')).toMatch(/Origin/);
    const get = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent('{ __typename }')}`, { headers: { origin: foreign } });
    expect(corsHeaders(get)).toEqual([]);
  });

  it('grants the server its own origin, and serves requests without an Origin as before', async () => {
    const own = new URL(server.url).origin;
    const granted = await preflight(server, own, `content-type, authorization, ${CSRF_HEADER}`);
    expect(granted.status).toBe(204);
    expect(granted.headers.get('access-control-allow-origin')).toBe(own);
    expect(granted.headers.get('access-control-allow-credentials')).toBe('true');
    expect(granted.headers.get('access-control-allow-headers')).toContain(CSRF_HEADER);
    const answered = await post(server, JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', origin: own });
    expect(answered.headers.get('access-control-allow-origin')).toBe(own);

    const plain = await gql(server, '{ __typename }');
    expect(plain.data).toEqual({ __typename: 'Query' });
    expect(corsHeaders(new Response(null, { headers: plain.headers }))).toEqual([]);
  });

  it('runs nothing posted as a form, multipart, text/plain or without a Content-Type: 415, and nothing changes', async () => {
    const names: string[] = [];
    const form = (username: string) => {
      const { query, variables } = register(username);
      return new URLSearchParams({ query, variables: JSON.stringify(variables) });
    };
    const attempts: [string, () => Promise<Response>][] = [
      ['application/x-www-form-urlencoded', async () => post(server, form(names[0]!).toString(), { 'content-type': 'application/x-www-form-urlencoded' })],
      [
        'multipart/form-data',
        async () => {
          const body = new FormData();
          body.set('operations', JSON.stringify(register(names[1]!)));
          body.set('map', '{}');
          return fetch(server.graphqlUrl, { method: 'POST', body });
        },
      ],
      ['text/plain', async () => post(server, JSON.stringify(register(names[2]!)), { 'content-type': 'text/plain;charset=UTF-8' })],
      ['no Content-Type', async () => fetch(server.graphqlUrl, { method: 'POST', body: new Blob([JSON.stringify(register(names[3]!))]) })],
      ['text/plain to the SSE endpoint', async () => fetch(`${server.url}/graphql/stream`, { method: 'POST', headers: { 'content-type': 'text/plain', accept: 'text/event-stream' }, body: JSON.stringify(register(names[4]!)) })],
    ];
    for (let i = 0; i < attempts.length; i++) names.push(uniqueName('csrf'));
    for (const [what, send] of attempts) {
      const response = await send();
      expect(response.status, what).toBe(415);
      const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code, what).toBe('BAD_USER_INPUT');
      expect(body.errors[0]!.message, what).toMatch(/application\/json/);
    }
    for (const name of names) expect(await exists(server, name), name).toBe(false);
  });

  it('runs no mutation sent with GET (405), and nothing changes', async () => {
    const name = uniqueName('get');
    const { query, variables } = register(name);
    const response = await fetch(`${server.graphqlUrl}?${new URLSearchParams({ query, variables: JSON.stringify(variables) })}`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(405);
    expect(await exists(server, name)).toBe(false);
  });

  it('spends the refresh cookie only with the CSRF header; refused, the token is not rotated', async () => {
    const user = await account(server, 'ck');
    const login = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation ($input: LoginInput!) { login(input: $input) { refreshToken } }', variables: { input: { login: user.username, password: user.password } } }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const { refreshToken } = ((await login.json()) as { data: { login: { refreshToken: string } } }).data.login;
    expect(cookie).toBe(`sb_refresh=${refreshToken}`);
    const refresh = JSON.stringify({ query: 'mutation { refresh { refreshToken } }' });

    const refused = await post(server, refresh, { 'content-type': 'application/json', cookie });
    const refusedBody = (await refused.json()) as { data?: unknown; errors: { message: string; extensions: { code: string } }[] };
    expect(refusedBody.errors.map((e) => e.extensions.code)).toEqual(['FORBIDDEN']);
    expect(refusedBody.errors[0]!.message).toContain(CSRF_HEADER);
    expect(refused.headers.get('set-cookie')).toBeNull();

    // Still the live token: had the refusal rotated it, presenting it again would be reuse and end the session.
    const allowed = await post(server, refresh, { 'content-type': 'application/json', cookie, [CSRF_HEADER]: '1' });
    const allowedBody = (await allowed.json()) as { data: { refresh: { refreshToken: string } } | null; errors?: unknown };
    expect(allowedBody.errors).toBeUndefined();
    expect(allowedBody.data!.refresh.refreshToken).not.toBe(refreshToken);
    expect(allowed.headers.get('set-cookie')).toContain(`sb_refresh=${allowedBody.data!.refresh.refreshToken}`);
  });

  it('answers a body that is not JSON with 400 whatever the client accepts', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json', '*/*']) {
      const response = await post(server, '{"query":', { 'content-type': 'application/json', accept });
      expect(response.status, accept).toBe(400);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  it('counts __typename aliases against the alias limit', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const many = await gql(server, aliases(1000));
    expect(many.data).toBeUndefined();
    expect(errorCodes(many)).toEqual(['BAD_USER_INPUT']);
    expect(many.errors![0]!.message).toMatch(/Aliases limit of 15/);
    const fifteen = await gql(server, aliases(15));
    expect(fifteen.errors).toBeUndefined();
    expect(Object.keys(fifteen.data)).toHaveLength(15);
  });

  it('serves GraphiQL with a Content Security Policy and no inline script', async () => {
    const response = await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await response.text();
    // Every executable script has a src (the options block is JSON, which the browser does not run).
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      if (!/type="application\/json"/.test(attributes!)) expect(body!.trim(), attributes).toBe('');
    }
  });

  it('keeps introspection on by default', async () => {
    const response = await gql(server, '{ __schema { queryType { name } } }');
    expect(response.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('ALLOWED_ORIGINS set', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), ALLOWED_ORIGINS: `${listed}, https://other.test` });
  });

  it('grants a listed origin with credentials, refuses others with 403, and keeps the own origin', async () => {
    const granted = await preflight(server, listed, `content-type, authorization, ${CSRF_HEADER}`);
    expect(granted.status).toBe(204);
    expect(granted.headers.get('access-control-allow-origin')).toBe(listed);
    expect(granted.headers.get('access-control-allow-credentials')).toBe('true');
    expect(granted.headers.get('access-control-allow-methods')).toContain('POST');
    expect(granted.headers.get('access-control-allow-headers')).toContain(CSRF_HEADER);
    const answered = await post(server, JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', origin: listed });
    expect(answered.status).toBe(200);
    expect(answered.headers.get('access-control-allow-origin')).toBe(listed);
    expect(answered.headers.get('access-control-allow-credentials')).toBe('true');

    expect((await preflight(server, foreign)).status).toBe(403);
    const refused = await post(server, JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', origin: foreign });
    expect(refused.status).toBe(403);
    expect(corsHeaders(refused)).toEqual([]);

    // The page the server itself serves at / keeps working without being listed.
    const own = new URL(server.url).origin;
    const ownAnswer = await post(server, JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', origin: own });
    expect(ownAnswer.status).toBe(200);
    const user = await account(server, 'ao');
    const socket = connectSocket(server, { authorization: `Bearer ${user.accessToken}` }, { headers: { origin: own } });
    await socket.acked;
    socket.client.dispose();
  });
});

describe('INTROSPECTION=false', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), INTROSPECTION: 'false' });
  });

  it('refuses __schema and __type with FORBIDDEN over HTTP and WebSocket; __typename still works', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name } }', '{ __typename a: __schema { types { name } } }']) {
      const response = await gql(server, query);
      expect(response.data, query).toBeUndefined();
      expect(errorCodes(response), query).toEqual(['FORBIDDEN']);
      expect(response.errors![0]!.message).toMatch(/INTROSPECTION=false/);
    }
    expect((await gql(server, '{ __typename }')).data).toEqual({ __typename: 'Query' });

    const user = await account(server, 'in');
    const socket = connectSocket(server, { authorization: `Bearer ${user.accessToken}` });
    await socket.acked;
    const errors = await new Promise<unknown>((resolve) => {
      socket.client.subscribe({ query: '{ __schema { queryType { name } } }' }, { next: () => resolve('answered'), error: resolve, complete: () => undefined });
    });
    expect((errors as { extensions: { code: string } }[]).map((e) => e.extensions.code)).toEqual(['FORBIDDEN']);
    socket.client.dispose();
  });
});

describe('/metrics without METRICS_TOKEN', () => {
  const warning = /GET \/metrics is open/;
  const warned = (server: TestServer) => server.logs.some((line) => warning.test(line) && JSON.parse(line).level === 40);

  it('judges HOST as written: loopback literals and localhost only', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', '128.0.0.1', 'example.test', 'localhost.example.test']) expect(isLoopbackHost(host), host).toBe(false);
  });

  it('warns once at start when HOST is not loopback, and not when it is or a token is set', async () => {
    // Its logs keep every line since its start: a start warning would be there after other tests' requests too.
    const quiet = await defaultServer();
    // This machine's name, which /etc/hosts maps to a loopback address: not loopback as written, yet nothing listens beyond loopback.
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    expect(addresses.length > 0 && addresses.every((a) => isLoopbackHost(a.address)), `${name} must resolve to loopback only for this test`).toBe(true);
    const open = await startServer({ ...scaledEnv(), HOST: name });
    const guarded = await startServer({ ...scaledEnv(), HOST: name, METRICS_TOKEN: 'a-metrics-token-long-enough' });
    // The warning comes before the listening line, which startServer waited for.
    expect(warned(open)).toBe(true);
    expect(open.logs.filter((line) => warning.test(line))).toHaveLength(1);
    expect(open.logs.find((line) => warning.test(line))).toContain(`HOST=${name}`);
    expect(warned(quiet)).toBe(false);
    expect(warned(guarded)).toBe(false);
  });
});
