/**
 * Tokens over real HTTP: the pinned algorithm, lifetimes (ACCESS_TOKEN_TTL,
 * REFRESH_TOKEN_TTL), the generated secret (kept in DATA_DIR when embedded,
 * shared through the database when scaled), and the
 * refresh cookie's Secure flag under TLS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { LOGIN, REGISTER, signUp } from '../helpers/accounts.ts';
import { connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, temporaryFolder, embeddedDataDir, sharedServer, testJwtSecret } from '../helpers/server.ts';
import { ME, REFRESH, claimsOf } from './support.ts';
import { withDatabase } from '../helpers/env.ts';
import { serverEntry } from '../../scripts/build.ts';

afterAll(stopAllServers);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const encodePart = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('access tokens', () => {
  // The two tests on the default environment share one instance, as each start costs seconds of CPU
  // (test/helpers/server.ts); each signs up a user of its own on it, and afterAll stops it.
  const plainServer = sharedServer(scaledEnv());

  it('refuses tokens of another algorithm, unsigned ones and tampered claims', async () => {
    const server = await plainServer();
    const user = await signUp(server);
    const claims = claimsOf(user.accessToken);
    const hs512 = await new SignJWT({ sid: claims.sid, roles: claims.roles })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject(claims.sub)
      .setJti('j')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(testJwtSecret));
    const unsigned = `${encodePart({ alg: 'none', typ: 'JWT' })}.${encodePart(claims)}.`;
    const [header, , signature] = user.accessToken.split('.');
    const promoted = `${header}.${encodePart({ ...claims, roles: ['admin'] })}.${signature}`;
    for (const token of [hs512, unsigned, promoted]) {
      expect(errorCodes(await gql(server, ME, {}, { token }))).toEqual(['UNAUTHENTICATED']);
    }
    expect((await gql(server, ME, {}, { token: user.accessToken })).data.me.username).toBe(user.username);
  });

  it('refuses HS256 tokens signed with the secret whose claims are missing, of the wrong type, expired or not yet valid; takes one that is right', async () => {
    const server = await plainServer();
    const user = await signUp(server);
    const { sub, sid, roles } = claimsOf(user.accessToken);
    const now = Math.floor(Date.now() / 1000);
    const signed = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(testJwtSecret));
    const right = { sub, sid, roles, jti: 'j', iat: now, exp: now + 300 };
    const { sid: _sid, ...withoutSession } = right;
    const { exp: _exp, ...withoutExpiry } = right;
    const wrong = {
      'no session': withoutSession,
      'no expiry': withoutExpiry,
      'roles not a list': { ...right, roles: 'admin' },
      'a numeric subject': { ...right, sub: 42 },
      'iat not a number': { ...right, iat: 'today' },
      expired: { ...right, iat: now - 600, exp: now - 1 },
      'not yet valid': { ...right, nbf: now + 300 },
    };
    for (const [defect, claims] of Object.entries(wrong)) {
      const token = await signed(claims);
      expect([defect, errorCodes(await gql(server, ME, {}, { token }))]).toEqual([defect, ['UNAUTHENTICATED']]);
      // Over WebSocket the token itself is refused at init (4403), not admitted and closed later.
      expect([defect, (await connectSocket(server, { token }).closed).code]).toEqual([defect, 4403]);
    }
    expect((await gql(server, ME, {}, { token: await signed(right) })).data.me.username).toBe(user.username);
  });

  it('expire after ACCESS_TOKEN_TTL; refresh gives a working one for the same session', async () => {
    const server = await startServer({ ...scaledEnv(), ACCESS_TOKEN_TTL: '3' });
    const user = await signUp(server);
    expect(claimsOf(user.accessToken).exp - claimsOf(user.accessToken).iat).toBeGreaterThanOrEqual(3);
    expect(claimsOf(user.accessToken).exp - claimsOf(user.accessToken).iat).toBeLessThanOrEqual(4);
    // Clock: the access token's expiry has to pass.
    await sleep(Math.max(0, claimsOf(user.accessToken).exp * 1000 - Date.now()) + 100);
    expect(errorCodes(await gql(server, ME, {}, { token: user.accessToken }))).toEqual(['UNAUTHENTICATED']);
    const renewed = (await gql(server, REFRESH, { token: user.refreshToken })).data.refresh;
    expect(claimsOf(renewed.accessToken).sid).toBe(claimsOf(user.accessToken).sid);
    expect((await gql(server, ME, {}, { token: renewed.accessToken })).data.me.username).toBe(user.username);
    await server.stop();
  });
});

describe('refresh tokens', () => {
  it('expire after REFRESH_TOKEN_TTL', async () => {
    const server = await startServer({ ...scaledEnv(), REFRESH_TOKEN_TTL: '1' });
    const user = await signUp(server);
    // Clock: REFRESH_TOKEN_TTL (1 s) has to pass.
    await sleep(1500);
    const response = await gql(server, REFRESH, { token: user.refreshToken });
    expect(errorCodes(response)).toEqual(['UNAUTHENTICATED']);
    expect(response.errors![0]!.message).toMatch(/expired/);
    await server.stop();
  });
});

describe('the generated secret (no JWT_SECRET)', () => {
  it('embedded: is generated once into DATA_DIR (mode 600) and kept across restarts', async () => {
    const dataDir = embeddedDataDir('switchboard-secret-');
    const env = { JWT_SECRET: undefined, DATA_DIR: dataDir };
    const first = await startServer(env);
    const user = await signUp(first);
    await first.stop();
    const file = path.join(dataDir, 'jwt-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').length).toBeGreaterThanOrEqual(32);

    const again = await startServer(env);
    expect((await gql(again, ME, {}, { token: user.accessToken })).data.me.username).toBe(user.username);
    await again.stop();
    const elsewhere = await startServer({ ...env, DATA_DIR: embeddedDataDir('switchboard-secret-') });
    expect(errorCodes(await gql(elsewhere, ME, {}, { token: user.accessToken }))).toEqual(['UNAUTHENTICATED']);
    await elsewhere.stop();
  }, 120_000);

  it('scaled: instances on one database share one generated secret, whichever starts first, never one per DATA_DIR', async () => {
    // No key yet: the two starting at once race to create it.
    await withDatabase((client) => client.query(`DELETE FROM "SigningKey"`));
    const env = () => ({ ...scaledEnv(), JWT_SECRET: undefined, DATA_DIR: temporaryFolder('switchboard-secret-') });
    const [a, b] = await Promise.all([startServer(env()), startServer(env())]);
    const onA = await signUp(a);
    const onB = await signUp(b);
    expect((await gql(b, ME, {}, { token: onA.accessToken })).data.me.username).toBe(onA.username);
    expect((await gql(a, ME, {}, { token: onB.accessToken })).data.me.username).toBe(onB.username);
    const socket = connectSocket(b, { authorization: `Bearer ${onA.accessToken}` });
    await socket.acked;
    await socket.client.dispose();
    // A third, started later, reads the same one.
    const c = await startServer(env());
    expect((await gql(c, ME, {}, { token: onB.accessToken })).data.me.username).toBe(onB.username);
    const [stored] = await withDatabase((client) => client.query(`SELECT algorithm FROM "SigningKey"`).then((r) => r.rows));
    expect(stored).toEqual({ algorithm: 'HS256' });
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });

  it('scaled with NODE_ENV=production: JWT_SECRET is still required', () => {
    const result = spawnSync(process.execPath, [serverEntry], {
      env: { ...process.env, ...scaledEnv(), JWT_SECRET: '', NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('invalid configuration: JWT_SECRET or JWT_SECRET_FILE is required when NODE_ENV=production');
  });
});

describe('the refresh cookie under TLS', () => {
  it('carries Secure', async () => {
    const dir = temporaryFolder('switchboard-tls-');
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = await startServer({ ...scaledEnv(), TLS_CERT: cert, TLS_KEY: key });
    const post = (query: string, variables: unknown) =>
      new Promise<{ cookie: string[]; body: any }>((resolve, reject) => {
        const request = https.request(server.graphqlUrl, { method: 'POST', ca: readFileSync(cert, 'utf8'), headers: { 'content-type': 'application/json' } }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ cookie: response.headers['set-cookie'] ?? [], body: JSON.parse(body) }));
        });
        request.on('error', reject);
        request.end(JSON.stringify({ query, variables }));
      });
    const username = uniqueName('tls');
    await post(REGISTER, { input: { username, email: `${username}@example.test`, password: 'tls-password-1' } });
    const login = await post(LOGIN, { input: { login: username, password: 'tls-password-1' } });
    expect(login.body.data.login.user.username).toBe(username);
    // The refresh cookie and the device cookie, both HttpOnly, SameSite=Strict and Secure under TLS.
    expect(login.cookie.map((c) => c.slice(0, c.indexOf('=')))).toEqual(['sb_refresh', 'sb_device']);
    for (const cookie of login.cookie) expect(cookie.split(';').map((p) => p.trim())).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Secure']));
  });
});
