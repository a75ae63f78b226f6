/**
 * Sign-in through an OpenID Connect provider, against a real provider
 * (oidc-provider, test/helpers/oidc-provider.ts) and real servers over HTTP:
 * the first sign-in creates a user, later ones find it; the session it
 * starts refreshes through the cookie and opens sockets. Refused: a wrong
 * state, a wrong nonce, an expired or reused code, a replayed callback, a
 * callback from another browser, a declined sign-in, and (linking off) a
 * verified email that belongs to an account here. Linking on: a verified
 * email links, an unverified one never does. Every outcome is audited, and
 * a refusal creates no user and no session. DPoP: a start naming the
 * client's key (`dpop_jkt`) gives a session bound to it; under DPOP_REQUIRED
 * a start without one is refused before the provider; the SDK's
 * `oidcStartUrl` names its key and `completeOidcSignIn` proves it.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MeDocument } from '../../client/documents.ts';
import { SwitchboardClient } from '../../client/sdk.ts';
import { CSRF_HEADER } from '../../src/core/codes.ts';
import { signUp } from '../helpers/accounts.ts';
import { takeOnce } from '../../src/auth/oidc.ts';
import { emptyRedisDatabase } from '../helpers/redis.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';
import { startIdp, type IdpAccount, type TestIdp } from '../helpers/oidc-provider.ts';
import { connectSocket, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { ME, REFRESH, claimsOf, closeDatabase, count, database, newKey, proofOf, uuidOf } from './support.ts';

/** Cookies by name, as a browser keeps them for one site (paths are ignored: each jar talks to one server). */
class Jar {
  private readonly cookies = new Map<string, string>();
  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';').map((p) => p.trim());
      const name = pair!.slice(0, pair!.indexOf('='));
      const value = pair!.slice(pair!.indexOf('=') + 1);
      if (!value || attributes.some((a) => /^max-age=0$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** A started sign-in: the browser's cookies at the server, and where the server sent it. */
interface Started {
  jar: Jar;
  authorizationUrl: URL;
}

interface Finished {
  status: number;
  location: string;
  setCookies: string[];
}

let idp: TestIdp;
/** Linking by email off (the default). */
let server: TestServer;
/** OIDC_LINK_BY_EMAIL=true, the secret read from OIDC_CLIENT_SECRET_FILE. */
let linking: TestServer;
/** DPOP_REQUIRED=true. */
let strict: TestServer;

const callbackOf = (s: TestServer) => `${s.url}/auth/oidc/callback`;

async function start(s: TestServer, query = ''): Promise<Started> {
  const jar = new Jar();
  const response = await fetch(`${s.url}/auth/oidc/start${query}`, { redirect: 'manual' });
  expect(response.status).toBe(303);
  jar.store(response);
  return { jar, authorizationUrl: new URL(response.headers.get('location')!) };
}

/** Goes through the provider (login and consent finish at once) as a browser would; returns where it sends the browser back. */
async function atProvider(authorizationUrl: URL): Promise<URL> {
  const jar = new Jar();
  let url = authorizationUrl;
  for (let hop = 0; hop < 10; hop++) {
    if (url.origin !== idp.issuer) return url;
    let response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response);
    if (response.status === 200 && url.pathname.startsWith('/interaction/')) {
      // The provider's login page: press Continue (its form posts back to the same address).
      response = await fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      jar.store(response);
    }
    const location = response.headers.get('location');
    if (!location) throw new Error(`the provider answered ${response.status} without a redirect: ${await response.text()}`);
    url = new URL(location, url);
  }
  throw new Error('too many redirects at the provider');
}

async function finish(s: TestServer, callback: URL, jar: Jar | null): Promise<Finished> {
  const response = await fetch(new URL(callback.pathname + callback.search, s.url), { redirect: 'manual', headers: jar ? { cookie: jar.header() } : {} });
  return { status: response.status, location: response.headers.get('location') ?? '', setCookies: response.headers.getSetCookie() };
}

/** The whole flow as `sub`; `query` goes on the start's URL. */
async function signIn(s: TestServer, sub: string, query = ''): Promise<Finished> {
  idp.signInAs = sub;
  const started = await start(s, query);
  return finish(s, await atProvider(started.authorizationUrl), started.jar);
}

const refreshCookieOf = (finished: Finished) => finished.setCookies.find((c) => c.startsWith('sb_refresh='));

/** The refresh the web page sends after `#oidc=signed-in`: the cookie and the CSRF header, and a DPoP proof when given. */
function refreshThroughCookie(s: TestServer, finished: Finished, proof?: string) {
  const cookie = refreshCookieOf(finished);
  if (!cookie) throw new Error(`no refresh cookie; redirected to ${finished.location}`);
  return gql(s, REFRESH, {}, { headers: { cookie: cookie.split(';')[0]!, [CSRF_HEADER]: '1', ...(proof ? { dpop: proof } : {}) } });
}

/** What the web page does after `#oidc=signed-in`: a refresh with the cookie; it must succeed. */
async function refreshWithCookie(s: TestServer, finished: Finished) {
  const response = await refreshThroughCookie(s, finished);
  expect(response.errors).toBeUndefined();
  return response.data.refresh as { accessToken: string; refreshToken: string; user: { id: string; username: string; email: string | null } };
}

const failureOf = (finished: Finished) => /#oidc-error=(\w+)$/.exec(finished.location)?.[1] ?? `no failure: ${finished.location}`;

function idpAccount(claims: Partial<IdpAccount> = {}): IdpAccount {
  const account = { sub: uniqueName('sub'), ...claims };
  idp.addAccount(account);
  return account;
}

const users = () => count('SELECT count(*) FROM "User"');
const sessions = () => count('SELECT count(*) FROM "Session"');
const identityOf = async (sub: string) =>
  (await (await database()).query<{ userId: string; email: string | null; emailVerified: boolean }>('SELECT "userId", email, "emailVerified" FROM "ExternalIdentity" WHERE subject = $1', [sub])).rows;
const auditKinds = async (userId: string) =>
  (await (await database()).query<{ kind: string }>('SELECT kind FROM "AuditEvent" WHERE "userId" = $1 ORDER BY id', [userId])).rows.map((r) => r.kind);
const failures = async (reason: string) => count(`SELECT count(*) FROM "AuditEvent" WHERE kind = 'oidc_failed' AND detail->>'reason' = $1`, [reason]);

/** Runs `refused` and checks it changed no user and no session. */
async function changesNothing<T>(refused: () => Promise<T>): Promise<T> {
  const [u, s] = [await users(), await sessions()];
  const result = await refused();
  expect([await users(), await sessions()]).toEqual([u, s]);
  return result;
}

beforeAll(async () => {
  idp = await startIdp();
  const secretFile = path.join(mkdtempSync(path.join(tmpdir(), 'oidc-secret-')), 'secret');
  writeFileSync(secretFile, `${idp.clientSecret}\n`);
  const common = { ...scaledEnv(), OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_STARTS_PER_IP: '100000' };
  [server, linking, strict] = await Promise.all([
    startServer({ ...common, OIDC_CLIENT_SECRET: idp.clientSecret, OIDC_PROVIDER_NAME: 'Test IdP' }),
    startServer({ ...common, OIDC_CLIENT_SECRET_FILE: secretFile, OIDC_LINK_BY_EMAIL: 'true' }),
    startServer({ ...common, OIDC_CLIENT_SECRET: idp.clientSecret, DPOP_REQUIRED: 'true' }),
  ]);
  await idp.allowRedirects(callbackOf(server), callbackOf(linking), callbackOf(strict));
});

afterAll(async () => {
  await stopAllServers();
  await idp?.close();
  await closeDatabase();
});

describe('OIDC sign-in', () => {
  it('lists the provider for the web page; a server without OIDC lists none and has no sign-in routes', async () => {
    expect(await (await fetch(`${server.url}/auth/providers`)).json()).toEqual({ providers: [{ id: 'oidc', name: 'Test IdP', start: '/auth/oidc/start' }] });
    expect(await (await fetch(`${linking.url}/auth/providers`)).json()).toEqual({ providers: [{ id: 'oidc', name: '127.0.0.2', start: '/auth/oidc/start' }] });
    const plain = await startServer(scaledEnv());
    expect(await (await fetch(`${plain.url}/auth/providers`)).json()).toEqual({ providers: [] });
    const startResponse = await fetch(`${plain.url}/auth/oidc/start`, { redirect: 'manual' });
    expect(startResponse.status).toBe(404);
    expect((await startResponse.json()).errors[0].extensions.code).toBe('NOT_FOUND');
    await plain.stop();
  });

  it('starts with PKCE (S256), state and nonce, and ties the sign-in to the browser with a short-lived HttpOnly cookie', async () => {
    const response = await fetch(`${server.url}/auth/oidc/start`, { redirect: 'manual' });
    const url = new URL(response.headers.get('location')!);
    expect(url.origin).toBe(idp.issuer);
    const params = Object.fromEntries(url.searchParams);
    expect(params).toMatchObject({ client_id: idp.clientId, response_type: 'code', code_challenge_method: 'S256', redirect_uri: callbackOf(server), scope: 'openid email profile' });
    for (const name of ['state', 'nonce', 'code_challenge']) expect(params[name]!.length).toBeGreaterThanOrEqual(32);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('sb_oidc='))!;
    expect(cookie).toMatch(/; Path=\/auth\/oidc; Max-Age=600; HttpOnly; SameSite=Lax$/);
    // Nothing of the sign-in travels in the cookie: only a random key.
    expect(cookie).not.toContain(params.state);
    expect(cookie).not.toContain(params.nonce);
  });

  it('creates a user at the first sign-in and finds it at the next; the session refreshes through the cookie and opens sockets', async () => {
    const name = uniqueName('oi');
    const account = idpAccount({ email: `${name}@example.test`, email_verified: true, preferred_username: name });
    const first = await signIn(server, account.sub);
    expect(first.status).toBe(303);
    expect(first.location).toBe(`${server.url}/#oidc=signed-in`);
    expect(refreshCookieOf(first)).toMatch(/; Path=\/graphql; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    expect(first.setCookies.find((c) => c.startsWith('sb_oidc='))).toMatch(/^sb_oidc=; Path=\/auth\/oidc; Max-Age=0;/);

    const auth = await refreshWithCookie(server, first);
    expect(auth.user).toMatchObject({ username: name, email: `${name}@example.test` });
    const userId = uuidOf(auth.user.id);
    expect(await identityOf(account.sub)).toEqual([{ userId, email: `${name}@example.test`, emailVerified: true }]);
    expect((await gql(server, ME, {}, { token: auth.accessToken })).data.me.username).toBe(name);
    const socket = connectSocket(server, { authorization: `Bearer ${auth.accessToken}` });
    await socket.acked;
    socket.client.dispose();
    // No one knows the password of a user made here.
    expect((await gql(server, 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }', { i: { login: name, password: 'password' } })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const usersBefore = await users();
    const again = await refreshWithCookie(server, await signIn(server, account.sub));
    expect(again.user.id).toBe(auth.user.id);
    expect(await users()).toBe(usersBefore);
    expect(await auditKinds(userId)).toEqual(expect.arrayContaining(['oidc_register', 'oidc_login', 'session_replaced']));
    expect((await auditKinds(userId)).filter((k) => k === 'oidc_login')).toHaveLength(2);
  });

  it('derives a unique username that keeps the username rule', async () => {
    const taken = await signUp(server);
    const twin = idpAccount({ preferred_username: taken.username });
    const twinUser = (await refreshWithCookie(server, await signIn(server, twin.sub))).user;
    expect(twinUser.username).not.toBe(taken.username);
    expect(twinUser.username).toMatch(new RegExp(`^${taken.username}-[0-9a-f]{4}$`));

    const odd = idpAccount({ preferred_username: 'Zoë ☃ <b>\u0000' });
    expect((await refreshWithCookie(server, await signIn(server, odd.sub))).user.username).toMatch(/^Zoe_b(-[0-9a-f]{4})?$/);
    const bare = idpAccount({ name: '☃' });
    expect((await refreshWithCookie(server, await signIn(server, bare.sub))).user.username).toMatch(/^user(-[0-9a-f]{4})?$/);
  });

  it('refuses a wrong state, and the sign-in is then spent', async () => {
    const account = idpAccount({ preferred_username: uniqueName('st') });
    idp.signInAs = account.sub;
    const started = await start(server);
    const callback = await atProvider(started.authorizationUrl);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'not-the-state-this-sign-in-sent');
    const before = await failures('state_mismatch');
    const refused = await changesNothing(() => finish(server, forged, started.jar));
    expect(failureOf(refused)).toBe('state_mismatch');
    expect(refreshCookieOf(refused)).toBeUndefined();
    expect(await failures('state_mismatch')).toBe(before + 1);
    // The right state comes too late: a started sign-in is taken once.
    expect(failureOf(await changesNothing(() => finish(server, callback, started.jar)))).toBe('no_sign_in');
    expect(await identityOf(account.sub)).toEqual([]);
  });

  it('refuses an ID token whose nonce is not the one this sign-in sent', async () => {
    const account = idpAccount({ preferred_username: uniqueName('no') });
    idp.signInAs = account.sub;
    const started = await start(server);
    const tampered = new URL(started.authorizationUrl);
    tampered.searchParams.set('nonce', 'a-nonce-this-server-never-sent-0123456789');
    const callback = await atProvider(tampered);
    const before = await failures('nonce_mismatch');
    expect(failureOf(await changesNothing(() => finish(server, callback, started.jar)))).toBe('nonce_mismatch');
    expect(await failures('nonce_mismatch')).toBe(before + 1);
    expect(await identityOf(account.sub)).toEqual([]);
  });

  it('refuses an expired code', async () => {
    const account = idpAccount({ preferred_username: uniqueName('ex') });
    idp.signInAs = account.sub;
    idp.codeTtl = 1;
    try {
      const started = await start(server);
      const callback = await atProvider(started.authorizationUrl);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(failureOf(await changesNothing(() => finish(server, callback, started.jar)))).toBe('code_rejected');
    } finally {
      idp.codeTtl = 60;
    }
    expect(await identityOf(account.sub)).toEqual([]);
  });

  it('refuses a replayed callback and a code presented again in another sign-in', async () => {
    const account = idpAccount({ preferred_username: uniqueName('re') });
    idp.signInAs = account.sub;
    const started = await start(server);
    const callback = await atProvider(started.authorizationUrl);
    const done = await finish(server, callback, started.jar);
    expect(done.location).toMatch(/#oidc=signed-in$/);
    // The same callback again, with the same cookie: the sign-in was spent.
    expect(failureOf(await changesNothing(() => finish(server, callback, started.jar)))).toBe('no_sign_in');
    // The used code, in a new sign-in of the same browser (its state, so that only the code is wrong): the provider refuses it.
    const next = await start(server);
    const reused = new URL(callback);
    reused.searchParams.set('state', next.authorizationUrl.searchParams.get('state')!);
    expect(failureOf(await changesNothing(() => finish(server, reused, next.jar)))).toBe('code_rejected');
  });

  it('refuses a callback without the browser that started it, and two racing callbacks sign in once', async () => {
    const account = idpAccount({ preferred_username: uniqueName('ra') });
    idp.signInAs = account.sub;
    const started = await start(server);
    const callback = await atProvider(started.authorizationUrl);
    expect(failureOf(await changesNothing(() => finish(server, callback, null)))).toBe('no_sign_in');
    const other = new Jar();
    other.store(new Response(null, { headers: { 'set-cookie': 'sb_oidc=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }));
    expect(failureOf(await finish(server, callback, other))).toBe('no_sign_in');

    const results = await Promise.all([finish(server, callback, started.jar), finish(server, callback, started.jar), finish(server, callback, started.jar)]);
    expect(results.filter((r) => r.location.endsWith('#oidc=signed-in'))).toHaveLength(1);
    expect(results.filter((r) => failureOf(r) === 'no_sign_in')).toHaveLength(2);
    expect(await identityOf(account.sub)).toHaveLength(1);
  });

  it('tells a declined sign-in', async () => {
    idp.signInAs = null;
    const started = await start(server);
    const callback = await atProvider(started.authorizationUrl);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(failureOf(await changesNothing(() => finish(server, callback, started.jar)))).toBe('provider_refused');
  });

  it('with linking off, refuses a verified email that belongs to an account here', async () => {
    const owner = await signUp(server);
    const account = idpAccount({ email: owner.email.toUpperCase(), email_verified: true });
    const before = await count(`SELECT count(*) FROM "AuditEvent" WHERE kind = 'oidc_failed' AND "userId" = $1`, [uuidOf(owner.id)]);
    expect(failureOf(await changesNothing(() => signIn(server, account.sub)))).toBe('email_taken');
    expect(await identityOf(account.sub)).toEqual([]);
    expect(await count(`SELECT count(*) FROM "AuditEvent" WHERE kind = 'oidc_failed' AND "userId" = $1`, [uuidOf(owner.id)])).toBe(before + 1);
  });

  it('with linking on, links the account of a verified email, once', async () => {
    const owner = await signUp(linking);
    const account = idpAccount({ email: owner.email.toUpperCase(), email_verified: true });
    const usersBefore = await users();
    const auth = await refreshWithCookie(linking, await signIn(linking, account.sub));
    expect(auth.user.id).toBe(owner.id);
    expect(await users()).toBe(usersBefore);
    expect(await identityOf(account.sub)).toEqual([{ userId: uuidOf(owner.id), email: owner.email.toUpperCase(), emailVerified: true }]);
    expect((await refreshWithCookie(linking, await signIn(linking, account.sub))).user.id).toBe(owner.id);
    expect((await auditKinds(uuidOf(owner.id))).filter((k) => k === 'oidc_link')).toHaveLength(1);

    // Another identity at the same provider with the same verified email: the account has its identity already.
    const second = idpAccount({ email: owner.email, email_verified: true });
    expect(failureOf(await changesNothing(() => signIn(linking, second.sub)))).toBe('already_linked');
  });

  it('with linking on, never links an unverified email, nor stores it on the new user', async () => {
    const owner = await signUp(linking);
    for (const claims of [{ email: owner.email, email_verified: false }, { email: owner.email }]) {
      const account = idpAccount({ ...claims, preferred_username: uniqueName('uv') });
      const auth = await refreshWithCookie(linking, await signIn(linking, account.sub));
      expect(auth.user.id).not.toBe(owner.id);
      expect(auth.user.email).toMatch(/^oidc-[0-9a-f]{24}@users\.invalid$/);
      expect(await identityOf(account.sub)).toEqual([{ userId: uuidOf(auth.user.id), email: owner.email, emailVerified: false }]);
    }
    expect(await auditKinds(uuidOf(owner.id))).not.toContain('oidc_link');
    // The owner's own sign-in is untouched.
    expect((await gql(linking, 'mutation($i: LoginInput!) { login(input: $i) { user { id } } }', { i: { login: owner.username, password: owner.password } })).data.login.user.id).toBe(owner.id);
  });

  it('limits the sign-ins one address starts (OIDC_STARTS_PER_IP)', async () => {
    // An empty Redis database of its own: the counter is cluster-wide, and the other servers here start many.
    const limited = await startServer({ ...scaledEnv(), REDIS_URL: await emptyRedisDatabase(9), OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret, OIDC_STARTS_PER_IP: '2' });
    await idp.allowRedirects(callbackOf(limited), callbackOf(server), callbackOf(linking), callbackOf(strict));
    const startAt = async () => (await fetch(`${limited.url}/auth/oidc/start`, { redirect: 'manual' })).headers.get('location')!;
    const noSignIn = new URL(`${limited.url}/auth/oidc/callback?code=forged&state=forged`);
    const before = await failures('no_sign_in');
    expect(await startAt()).toMatch(new RegExp(`^${idp.issuer}/auth\\?`));
    // A callback without a sign-in spends a start too, so that forged ones cannot fill the audit log.
    expect(failureOf(await finish(limited, noSignIn, null))).toBe('no_sign_in');
    expect(await startAt()).toBe(`${limited.url}/#oidc-error=rate_limited`);
    expect(failureOf(await finish(limited, noSignIn, null))).toBe('rate_limited');
    expect(await failures('no_sign_in')).toBe(before + 1);
    await limited.stop();
  });
});

describe('OIDC sign-in and DPoP (RFC 9449 section 10: the key named at the start)', () => {
  it('under DPOP_REQUIRED, a start without dpop_jkt is refused before the provider; a malformed one is BAD_USER_INPUT', async () => {
    const refused = await changesNothing(() => fetch(`${strict.url}/auth/oidc/start`, { redirect: 'manual' }));
    expect(refused.status).toBe(303);
    expect(refused.headers.get('location')).toBe(`${strict.url}/#oidc-error=dpop_required`);
    expect(refused.headers.getSetCookie()).toEqual([]);
    for (const bad of ['short', `${'A'.repeat(42)}+`, 'A'.repeat(44)]) {
      const response = await fetch(`${strict.url}/auth/oidc/start?dpop_jkt=${encodeURIComponent(bad)}`, { redirect: 'manual' });
      expect([bad, response.status, (await response.json()).errors[0].extensions.code]).toEqual([bad, 400, 'BAD_USER_INPUT']);
    }
  });

  it.each([
    ['under DPOP_REQUIRED', () => strict],
    ['with DPOP_REQUIRED off', () => server],
  ])('%s, a start with dpop_jkt gives a session bound to that key: its refresh cookie works only with a proof of it', async (_what, which) => {
    const s = which();
    const key = await newKey();
    const account = idpAccount({ preferred_username: uniqueName('dk') });
    const finished = await signIn(s, account.sub, `?dpop_jkt=${key.jkt}`);
    expect(finished.location).toBe(`${s.url}/#oidc=signed-in`);
    expect(await count('SELECT count(*) FROM "Session" WHERE "dpopJkt" = $1', [key.jkt])).toBe(1);
    const noProof = await refreshThroughCookie(s, finished);
    expect(noProof.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'DPOP_REQUIRED' });
    const otherKey = await refreshThroughCookie(s, finished, await proofOf(await newKey(), 'POST', s.graphqlUrl));
    expect(otherKey.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'INVALID_DPOP_PROOF' });
    const bound = await refreshThroughCookie(s, finished, await proofOf(key, 'POST', s.graphqlUrl));
    expect(bound.errors).toBeUndefined();
    const { accessToken } = bound.data.refresh;
    expect(claimsOf(accessToken).cnf).toEqual({ jkt: key.jkt });
    const me = await gql(s, ME, {}, { headers: { authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'POST', s.graphqlUrl, { accessToken }) } });
    expect(me.data.me.username).toBe(account.preferred_username);
  });
});

describe('the SDK: a sign-in through the provider bound to its key', () => {
  it('oidcStartUrl names the key; completeOidcSignIn, from a client given the kept pair, gets a session bound to it', async () => {
    const starting = new SwitchboardClient({ url: strict.graphqlUrl, webSocketImpl: WebSocket });
    const { keyPair, thumbprint } = await starting.currentDpopKey();
    const startUrl = new URL(await starting.oidcStartUrl());
    expect(`${startUrl.origin}${startUrl.pathname}`).toBe(`${strict.url}/auth/oidc/start`);
    expect(startUrl.searchParams.get('dpop_jkt')).toBe(thumbprint);
    // Resolved against the endpoint, so a path prefix before it is kept; `dpop: false` names no key.
    expect(await new SwitchboardClient({ url: 'https://example.test/chat/graphql', dpop: false }).oidcStartUrl()).toBe('https://example.test/chat/auth/oidc/start');

    const account = idpAccount({ preferred_username: uniqueName('sdk') });
    idp.signInAs = account.sub;
    const started = await start(strict, startUrl.search);
    const finished = await finish(strict, await atProvider(started.authorizationUrl), started.jar);
    expect(finished.location).toBe(`${strict.url}/#oidc=signed-in`);
    // Back from the navigation: a new client; the browser would send the refresh cookie, here a fetch adds it.
    const cookie = refreshCookieOf(finished)!.split(';')[0]!;
    const withCookie: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), cookie } });
    // Without the kept pair it has another key: refused, and the cookie is not spent.
    const keyless = new SwitchboardClient({ url: strict.graphqlUrl, webSocketImpl: WebSocket, fetch: withCookie });
    await expect(keyless.completeOidcSignIn()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', errors: [{ extensions: { reason: 'INVALID_DPOP_PROOF' } }] });
    const client = new SwitchboardClient({ url: strict.graphqlUrl, webSocketImpl: WebSocket, fetch: withCookie, dpopKey: keyPair });
    try {
      expect((await client.completeOidcSignIn()).username).toBe(account.preferred_username);
      expect(claimsOf(client.tokens!.accessToken).cnf).toEqual({ jkt: thumbprint });
      expect((await client.request(MeDocument)).me?.username).toBe(account.preferred_username);
      // Its session ended, the client forgets the key: the next one gets its own.
      await client.logout();
      expect((await client.currentDpopKey()).thumbprint).not.toBe(thumbprint);
    } finally {
      client.close();
    }
  });
});

describe('a started sign-in is taken once, on Redis and in memory alike', () => {
  const { implementations, disconnect } = stateImplementations();
  afterAll(disconnect);
  it.each(implementations)('%s: of racing takes, one gets the value; then it is gone', async (_name, create) => {
    const state = create();
    const key = `sb:oidc:test-${uniqueName('take')}`;
    await state.set(key, 'started', 60);
    const taken = await Promise.all(Array.from({ length: 5 }, () => state.run(takeOnce, [key], [])));
    expect(taken.filter((v) => v === 'started')).toHaveLength(1);
    expect(taken.filter((v) => v === null)).toHaveLength(4);
    expect(await state.get(key)).toBeNull();
  });
});
