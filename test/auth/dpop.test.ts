/**
 * DPoP (RFC 9449) against real servers: two instances on one PostgreSQL and
 * one Redis, and a third with DPOP_REQUIRED. A bound token (access or
 * refresh) is useless without its key, over HTTP and at connection_init;
 * proofs are refused when replayed (on the same or another instance, or
 * raced), from another key, or for another method, URL, token or time;
 * unbound clients work as before while DPOP_REQUIRED is off. With
 * DPOP_REQUIRED every way into a session (password, second step, an admin's
 * enrolment at sign-in, refresh) is refused without a proof before anything
 * is spent; OIDC under it is in test/auth/oidc.test.ts.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSync } from 'otplib';
import { LOGIN, REGISTER } from '../helpers/accounts.ts';
import { closeWithin, collect, connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, type GraphQLResponse, type TestServer } from '../helpers/server.ts';
import { ME, REFRESH, ath, claimsOf, closeDatabase, count, database, newKey, proofOf, type Key } from './support.ts';

let a: TestServer;
let b: TestServer;
let strict: TestServer;

beforeAll(async () => {
  [a, b, strict] = await Promise.all([startServer(scaledEnv()), startServer(scaledEnv()), startServer({ ...scaledEnv(), DPOP_REQUIRED: 'true', ADMIN_REQUIRE_2FA: 'true' })]);
});

afterAll(async () => {
  await stopAllServers();
  await closeDatabase();
});

const password = 'correct horse battery';

async function register(server: TestServer): Promise<string> {
  const username = uniqueName('dp');
  const registered = await gql(server, REGISTER, { input: { username, email: `${username}@example.test`, password } });
  if (!registered.data?.register) throw new Error(`register failed: ${JSON.stringify(registered.errors)}`);
  return username;
}

/** Logs in with a proof of `key` (none: unbound); returns the response. */
async function login(server: TestServer, username: string, key?: Key, proof?: string): Promise<GraphQLResponse> {
  const headers: Record<string, string> = {};
  if (proof) headers.dpop = proof;
  else if (key) headers.dpop = await proofOf(key, 'POST', server.graphqlUrl);
  return gql(server, LOGIN, { input: { login: username, password } }, { headers });
}

/** A bound session: its tokens and key. */
async function boundSession(server: TestServer = a) {
  const username = await register(server);
  const key = await newKey();
  const response = await login(server, username, key);
  if (!response.data?.login) throw new Error(`bound login failed: ${JSON.stringify(response.errors)}`);
  return { username, key, accessToken: response.data.login.accessToken as string, refreshToken: response.data.login.refreshToken as string };
}

/** `me` with `Authorization: <scheme> <token>` and, when given, a DPoP header. */
const me = (server: TestServer, token: string, scheme: 'DPoP' | 'Bearer', proof?: string) =>
  gql(server, ME, {}, { headers: { authorization: `${scheme} ${token}`, ...(proof ? { dpop: proof } : {}) } });

/** `me` with a fresh, correct proof of `key` for `token` on `server`. */
const meBound = async (server: TestServer, token: string, key: Key) => me(server, token, 'DPoP', await proofOf(key, 'POST', server.graphqlUrl, { accessToken: token }));

const reasonOf = (response: GraphQLResponse) => response.errors?.[0]?.extensions?.reason;

const refresh = (server: TestServer, refreshToken: string, proof?: string) => gql(server, REFRESH, { token: refreshToken }, { headers: proof ? { dpop: proof } : {} });

/** `me` posted to `server` with this Host header (fetch sets its own), as a load balancer in front of both would pass it. */
function postWithHost(server: TestServer, host: string, headers: Record<string, string>): Promise<GraphQLResponse> {
  const body = JSON.stringify({ query: ME });
  return new Promise((resolve, reject) => {
    const request = http.request(server.graphqlUrl, { method: 'POST', headers: { ...headers, host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => {
        const parsed = JSON.parse(text);
        resolve({ status: response.statusCode!, data: parsed.data, errors: parsed.errors, headers: new Headers() });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** The endpoint's http URL: the htu of a connection_init proof. */
const httpUrlOf = (server: TestServer) => server.graphqlUrl;

describe('binding at login', () => {
  it('a login with a proof gives an access token with cnf.jkt, and the session records the key', async () => {
    const { key, accessToken } = await boundSession();
    const claims = claimsOf(accessToken);
    expect(claims.cnf).toEqual({ jkt: key.jkt });
    expect(await count('SELECT count(*) FROM "Session" WHERE id = $1 AND "dpopJkt" = $2', [claims.sid, key.jkt])).toBe(1);
  });

  it('a login with a bad proof is refused and starts no session', async () => {
    const username = await register(a);
    const key = await newKey();
    const before = await count('SELECT count(*) FROM "Session" s JOIN "User" u ON u.id = s."userId" WHERE u."usernameKey" = $1', [username]);
    const wrongUrl = await login(a, username, key, await proofOf(key, 'POST', `${a.url}/elsewhere`));
    expect(errorCodes(wrongUrl)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(wrongUrl)).toBe('INVALID_DPOP_PROOF');
    expect(await count('SELECT count(*) FROM "Session" s JOIN "User" u ON u.id = s."userId" WHERE u."usernameKey" = $1', [username])).toBe(before);
  });
});

describe('a bound access token over HTTP', () => {
  it('is accepted with Authorization: DPoP and a fresh proof, on either instance', async () => {
    const { username, key, accessToken } = await boundSession();
    expect((await meBound(a, accessToken, key)).data.me.username).toBe(username);
    expect((await meBound(b, accessToken, key)).data.me.username).toBe(username);
  });

  it('stolen (no key): refused as Bearer, as DPoP without a proof, and with a proof of another key', async () => {
    const { key, accessToken } = await boundSession();
    const thief = await newKey();
    const asBearer = await me(a, accessToken, 'Bearer');
    expect(errorCodes(asBearer)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(asBearer)).toBe('DPOP_REQUIRED');
    // Even with a good proof of its key, a bound token sent as Bearer is refused (RFC 9449 section 7.1).
    const bearerWithProof = await me(a, accessToken, 'Bearer', await proofOf(key, 'POST', a.graphqlUrl, { accessToken }));
    expect(reasonOf(bearerWithProof)).toBe('DPOP_REQUIRED');
    const noProof = await me(a, accessToken, 'DPoP');
    expect(errorCodes(noProof)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(noProof)).toBe('DPOP_REQUIRED');
    const otherKey = await me(a, accessToken, 'DPoP', await proofOf(thief, 'POST', a.graphqlUrl, { accessToken }));
    expect(errorCodes(otherKey)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(otherKey)).toBe('INVALID_DPOP_PROOF');
  });

  it('refuses a proof for another method, URL, token, time or type', async () => {
    const { key, accessToken } = await boundSession();
    const now = Math.floor(Date.now() / 1000);
    const bad = {
      htm: await proofOf(key, 'GET', a.graphqlUrl, { accessToken }),
      htu: await proofOf(key, 'POST', `${a.url}/other`, { accessToken }),
      otherHost: await proofOf(key, 'POST', b.graphqlUrl, { accessToken }),
      noAth: await proofOf(key, 'POST', a.graphqlUrl),
      ath: await proofOf(key, 'POST', a.graphqlUrl, { ath: await ath(`${accessToken}x`) }),
      old: await proofOf(key, 'POST', a.graphqlUrl, { accessToken, iat: now - 300 }),
      future: await proofOf(key, 'POST', a.graphqlUrl, { accessToken, iat: now + 120 }),
      typ: await proofOf(key, 'POST', a.graphqlUrl, { accessToken, typ: 'JWT' }),
      garbage: 'not.a.proof',
    };
    for (const [what, proof] of Object.entries(bad)) {
      const response = await me(a, accessToken, 'DPoP', proof);
      expect([what, errorCodes(response), reasonOf(response)]).toEqual([what, ['UNAUTHENTICATED'], 'INVALID_DPOP_PROOF']);
    }
    // The same token with a good proof still works: the refusals changed nothing.
    expect((await meBound(a, accessToken, key)).data.me).not.toBeNull();
  });

  it('takes an iat just inside the window (DPOP_PROOF_WINDOW past, 5 s of skew either way) and refuses one just outside', async () => {
    const { key, accessToken } = await boundSession();
    // a runs with the default DPOP_PROOF_WINDOW; the skew allowed is src/auth/dpop.ts's clockTolerance.
    const [window, skew] = [60, 5];
    // Seconds the request may take to reach the server's clock: the edges taken are that far inside, or outside, the window.
    const inFlight = 2;
    const now = Math.floor(Date.now() / 1000);
    const edges = {
      oldestTaken: { iat: now - window - skew + inFlight, taken: true },
      tooOld: { iat: now - window - skew - 1, taken: false },
      newestTaken: { iat: now + skew, taken: true },
      tooNew: { iat: now + skew + 1 + inFlight, taken: false },
    };
    for (const [what, { iat, taken }] of Object.entries(edges)) {
      const response = await me(a, accessToken, 'DPoP', await proofOf(key, 'POST', a.graphqlUrl, { accessToken, iat }));
      if (taken) expect([what, response.errors, response.data.me?.id]).toEqual([what, undefined, expect.any(String)]);
      else expect([what, errorCodes(response), reasonOf(response), response.errors?.[0]?.message]).toEqual([what, ['UNAUTHENTICATED'], 'INVALID_DPOP_PROOF', `Invalid DPoP proof: its iat must be within the last ${window} s.`]);
    }
  });

  it('a query string on the request does not change the htu', async () => {
    const { key, accessToken } = await boundSession();
    const response = await fetch(`${a.graphqlUrl}?query=${encodeURIComponent(ME)}`, {
      headers: { accept: 'application/json', authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'GET', a.graphqlUrl, { accessToken }) },
    });
    expect(((await response.json()) as any).data.me).not.toBeNull();
  });
});

describe('replayed proofs', () => {
  it('a proof is accepted once: again on the same instance or on the other, refused', async () => {
    const { key, accessToken } = await boundSession();
    const proof = await proofOf(key, 'POST', a.graphqlUrl, { accessToken });
    expect((await me(a, accessToken, 'DPoP', proof)).data.me).not.toBeNull();
    const again = await me(a, accessToken, 'DPoP', proof);
    expect(reasonOf(again)).toBe('INVALID_DPOP_PROOF');
    expect(again.errors![0]!.message).toMatch(/replay/);
    // b is reached at its own URL: a proof for it, replayed there after its first use on b.
    const forB = await proofOf(key, 'POST', b.graphqlUrl, { accessToken });
    expect((await me(b, accessToken, 'DPoP', forB)).data.me).not.toBeNull();
    expect(reasonOf(await me(b, accessToken, 'DPoP', forB))).toBe('INVALID_DPOP_PROOF');
  });

  it('one proof raced on two instances: exactly one request is accepted', async () => {
    const { key, accessToken } = await boundSession();
    // Both instances listen on 127.0.0.1; the proof names a's URL, so b is sent the same Host header as a.
    const proof = await proofOf(key, 'POST', a.graphqlUrl, { accessToken });
    const host = new URL(a.url).host;
    const send = (server: TestServer) => postWithHost(server, host, { authorization: `DPoP ${accessToken}`, dpop: proof });
    const results = await Promise.all([send(a), send(b), send(a), send(b), send(a), send(b)]);
    expect(results.filter((r) => r.data?.me).length).toBe(1);
    expect(results.filter((r) => reasonOf(r) === 'INVALID_DPOP_PROOF').length).toBe(5);
  });

  it('a login proof cannot be replayed for another login', async () => {
    const username = await register(a);
    const key = await newKey();
    const proof = await proofOf(key, 'POST', a.graphqlUrl);
    expect((await login(a, username, key, proof)).data?.login).toBeTruthy();
    expect(reasonOf(await login(a, username, key, proof))).toBe('INVALID_DPOP_PROOF');
  });
});

describe('a bound access token at connection_init', () => {
  it('is admitted with { authorization: "DPoP <token>", dpop: <proof for GET on the http URL> }', async () => {
    const { key, accessToken } = await boundSession();
    const socket = connectSocket(a, { authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'GET', httpUrlOf(a), { accessToken }) });
    await socket.acked;
    await socket.client.dispose();
  });

  it('stolen, wrong or replayed: closed with 4403', async () => {
    const { key, accessToken } = await boundSession();
    const thief = await newKey();
    const used = await proofOf(key, 'GET', httpUrlOf(a), { accessToken });
    const first = connectSocket(a, { authorization: `DPoP ${accessToken}`, dpop: used });
    await first.acked;
    await first.client.dispose();
    const attempts: Record<string, Record<string, unknown>> = {
      bearer: { authorization: `Bearer ${accessToken}` },
      token: { token: accessToken },
      noProof: { authorization: `DPoP ${accessToken}` },
      otherKey: { authorization: `DPoP ${accessToken}`, dpop: await proofOf(thief, 'GET', httpUrlOf(a), { accessToken }) },
      post: { authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'POST', httpUrlOf(a), { accessToken }) },
      wsUrl: { authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'GET', a.wsUrl, { accessToken }) },
      noAth: { authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'GET', httpUrlOf(a)) },
      replayed: { authorization: `DPoP ${accessToken}`, dpop: used },
    };
    for (const [what, params] of Object.entries(attempts)) {
      const socket = connectSocket(a, params);
      const close = await closeWithin(socket, 5000);
      if (close === 'still open') await socket.client.dispose();
      expect([what, close === 'still open' ? close : close.code]).toEqual([what, 4403]);
    }
  });
});

describe('a bound refresh token', () => {
  it('stolen (no proof, or another key): refused, and it still works for its owner', async () => {
    const { key, refreshToken } = await boundSession();
    const noProof = await refresh(a, refreshToken);
    expect(errorCodes(noProof)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(noProof)).toBe('DPOP_REQUIRED');
    const thief = await newKey();
    const otherKey = await refresh(b, refreshToken, await proofOf(thief, 'POST', b.graphqlUrl));
    expect(reasonOf(otherKey)).toBe('INVALID_DPOP_PROOF');
    const owner = await refresh(a, refreshToken, await proofOf(key, 'POST', a.graphqlUrl));
    expect(owner.errors).toBeUndefined();
    expect(claimsOf(owner.data.refresh.accessToken).cnf).toEqual({ jkt: key.jkt });
  });

  it('refresh over the socket takes its proof from the operation extensions (htm POST, htu the http URL)', async () => {
    const { key, accessToken, refreshToken } = await boundSession();
    const socket = connectSocket(a, { authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'GET', httpUrlOf(a), { accessToken }) });
    await socket.acked;
    const refreshOver = (extensions?: Record<string, unknown>) =>
      new Promise<any>((resolve) => {
        const results: any[] = [];
        socket.client.subscribe({ query: REFRESH, variables: { token: refreshToken }, ...(extensions ? { extensions } : {}) }, {
          next: (value) => results.push(value),
          error: (error) => resolve({ errors: error }),
          complete: () => resolve(results[0]),
        });
      });
    const without = await refreshOver();
    expect(without.errors[0].extensions.reason).toBe('DPOP_REQUIRED');
    const wrongMethod = await refreshOver({ dpop: await proofOf(key, 'GET', httpUrlOf(a)) });
    expect(wrongMethod.errors[0].extensions.reason).toBe('INVALID_DPOP_PROOF');
    const renewed = await refreshOver({ dpop: await proofOf(key, 'POST', httpUrlOf(a)) });
    expect(renewed.errors).toBeUndefined();
    expect(claimsOf(renewed.data.refresh.accessToken).cnf).toEqual({ jkt: key.jkt });
    // The socket lives on: a subscription still starts on it.
    const slots = collect(socket.client, 'subscription { connectionSlots { used max } }');
    await slots.waitFor(1);
    slots.unsubscribe();
    await socket.client.dispose();
  });
});

describe('unbound clients while DPOP_REQUIRED is off', () => {
  it('log in, query, connect and refresh with Bearer tokens as before', async () => {
    const username = await register(a);
    const response = await login(a, username);
    const { accessToken, refreshToken } = response.data.login;
    expect(claimsOf(accessToken).cnf).toBeUndefined();
    expect((await me(a, accessToken, 'Bearer')).data.me.username).toBe(username);
    const socket = connectSocket(b, { authorization: `Bearer ${accessToken}` });
    await socket.acked;
    await socket.client.dispose();
    const refreshed = await refresh(b, refreshToken);
    expect(refreshed.errors).toBeUndefined();
    expect(claimsOf(refreshed.data.refresh.accessToken).cnf).toBeUndefined();
    // An unbound token is not a DPoP token: that scheme is refused.
    expect(errorCodes(await me(a, accessToken, 'DPoP', await proofOf(await newKey(), 'POST', a.graphqlUrl, { accessToken })))).toEqual(['UNAUTHENTICATED']);
  });

  it('a refresh with a proof binds an unbound session from then on', async () => {
    const username = await register(a);
    const { refreshToken } = (await login(a, username)).data.login;
    const key = await newKey();
    const bound = await refresh(a, refreshToken, await proofOf(key, 'POST', a.graphqlUrl));
    expect(claimsOf(bound.data.refresh.accessToken).cnf).toEqual({ jkt: key.jkt });
    expect(reasonOf(await refresh(a, bound.data.refresh.refreshToken))).toBe('DPOP_REQUIRED');
  });
});

describe('DPOP_REQUIRED=true', () => {
  it('refuses login and refresh without a proof (DPOP_REQUIRED), changing nothing', async () => {
    const username = await register(strict);
    const sessions = () => count('SELECT count(*) FROM "Session" s JOIN "User" u ON u.id = s."userId" WHERE u."usernameKey" = $1', [username]);
    const refused = await login(strict, username);
    expect(errorCodes(refused)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(refused)).toBe('DPOP_REQUIRED');
    expect(await sessions()).toBe(0);
    // A session started unbound elsewhere (a) cannot be refreshed here without a proof.
    const { refreshToken } = (await login(a, username)).data.login;
    expect(reasonOf(await refresh(strict, refreshToken))).toBe('DPOP_REQUIRED');
    expect((await refresh(a, refreshToken)).errors).toBeUndefined();
  });

  it('refuses unbound (Bearer) tokens over HTTP and at connection_init', async () => {
    const username = await register(a);
    const { accessToken } = (await login(a, username)).data.login;
    const response = await me(strict, accessToken, 'Bearer');
    expect(errorCodes(response)).toEqual(['UNAUTHENTICATED']);
    expect(reasonOf(response)).toBe('DPOP_REQUIRED');
    const socket = connectSocket(strict, { authorization: `Bearer ${accessToken}` });
    expect((await socket.closed).code).toBe(4403);
  });

  it('accepts a bound session end to end', async () => {
    const { username, key, accessToken, refreshToken } = await boundSession(strict);
    expect((await meBound(strict, accessToken, key)).data.me.username).toBe(username);
    const socket = connectSocket(strict, { authorization: `DPoP ${accessToken}`, dpop: await proofOf(key, 'GET', httpUrlOf(strict), { accessToken }) });
    await socket.acked;
    await socket.client.dispose();
    expect((await refresh(strict, refreshToken, await proofOf(key, 'POST', strict.graphqlUrl))).errors).toBeUndefined();
  });

  const SECOND_STEP = 'mutation Second($input: SecondFactorLoginInput!) { loginWithSecondFactor(input: $input) { accessToken } }';
  const CONFIRM_AT_LOGIN = 'mutation Confirm($code: String!, $challenge: String) { confirmSecondFactor(code: $code, challenge: $challenge) { session { accessToken } } }';
  /** The code an authenticator app shows `stepsAhead` steps of 30 s from now. */
  const codeAt = (secret: string, stepsAhead = 0) => generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * stepsAhead });
  const sessionsOf = (username: string) => count('SELECT count(*) FROM "Session" s JOIN "User" u ON u.id = s."userId" WHERE u."usernameKey" = $1', [username]);
  /** The login's challenge: the password step signed with a proof of `key`, refused with `code`. */
  async function challengeOf(username: string, key: Key, code: string): Promise<string> {
    const started = await login(strict, username, key);
    expect(errorCodes(started)).toEqual([code]);
    return started.errors![0]!.extensions!.challenge as string;
  }

  it('refuses the second step without a proof before its code is spent; with one, the session is bound', async () => {
    const username = await register(a);
    const { accessToken } = (await login(a, username)).data.login;
    const secret = (await gql(a, 'mutation { enrolSecondFactor { secret } }', {}, { token: accessToken })).data.enrolSecondFactor.secret as string;
    expect((await gql(a, CONFIRM_AT_LOGIN, { code: codeAt(secret) }, { token: accessToken })).errors).toBeUndefined();
    const key = await newKey();
    const challenge = await challengeOf(username, key, 'SECOND_FACTOR_REQUIRED');
    const before = await sessionsOf(username);
    // The step after the one the confirmation spent: a code that is good once.
    const input = { challenge, code: codeAt(secret, 1) };
    const refused = await gql(strict, SECOND_STEP, { input });
    expect([errorCodes(refused), reasonOf(refused)]).toEqual([['UNAUTHENTICATED'], 'DPOP_REQUIRED']);
    expect(await sessionsOf(username)).toBe(before);
    // The same code, now with a proof: it was not spent by the refusal.
    const signedIn = await gql(strict, SECOND_STEP, { input }, { headers: { dpop: await proofOf(key, 'POST', strict.graphqlUrl) } });
    expect(signedIn.errors).toBeUndefined();
    expect(claimsOf(signedIn.data.loginWithSecondFactor.accessToken).cnf).toEqual({ jkt: key.jkt });
  });

  it("refuses an admin's enrolment at sign-in (ADMIN_REQUIRE_2FA) without a proof before it confirms; with one, the session is bound", async () => {
    const username = await register(a);
    await (await database()).query(`UPDATE "User" SET roles = '{admin}' WHERE "usernameKey" = $1`, [username]);
    const key = await newKey();
    const challenge = await challengeOf(username, key, 'SECOND_FACTOR_ENROLMENT_REQUIRED');
    const enrolled = await gql(strict, 'mutation($challenge: String) { enrolSecondFactor(challenge: $challenge) { secret } }', { challenge });
    const secret = enrolled.data.enrolSecondFactor.secret as string;
    const variables = { challenge, code: codeAt(secret) };
    const refused = await gql(strict, CONFIRM_AT_LOGIN, variables);
    expect([errorCodes(refused), reasonOf(refused)]).toEqual([['UNAUTHENTICATED'], 'DPOP_REQUIRED']);
    expect(await sessionsOf(username)).toBe(0);
    expect(await count('SELECT count(*) FROM "SecondFactor" f JOIN "User" u ON u.id = f."userId" WHERE u."usernameKey" = $1 AND f."confirmedAt" IS NULL', [username])).toBe(1);
    const confirmed = await gql(strict, CONFIRM_AT_LOGIN, variables, { headers: { dpop: await proofOf(key, 'POST', strict.graphqlUrl) } });
    expect(confirmed.errors).toBeUndefined();
    expect(claimsOf(confirmed.data.confirmSecondFactor.session.accessToken).cnf).toEqual({ jkt: key.jkt });
  });
});
