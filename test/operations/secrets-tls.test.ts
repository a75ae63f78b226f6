/**
 * Secrets and transport: the JWT key read from JWT_SECRET_FILE (Docker
 * secrets), and https + wss on one port from TLS_CERT / TLS_KEY with a
 * self-signed certificate made here for 127.0.0.1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { jwtVerify, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, temporaryFolder, testJwtSecret } from '../helpers/server.ts';
import { LOGIN, REGISTER, signUp } from '../helpers/accounts.ts';
import { openAckedSocket } from './raw-socket.ts';
import { serverEntry } from '../../scripts/build.ts';

afterAll(stopAllServers);

const dir = temporaryFolder('switchboard-ops-');

describe('JWT_SECRET_FILE', () => {
  it('signs and verifies access tokens with the key from the file, in production mode', async () => {
    const secret = `file-secret-${uniqueName('s')}-0123456789abcdefghijklmnop`;
    const file = path.join(dir, 'jwt_secret');
    writeFileSync(file, `${secret}\n`);
    const server = await startServer({ ...scaledEnv(), NODE_ENV: 'production', JWT_SECRET: undefined, JWT_SECRET_FILE: file });
    const account = await signUp(server);
    const { payload } = await jwtVerify(account.accessToken, new TextEncoder().encode(secret), { algorithms: ['HS256'] });
    expect(payload.sub).toBeTruthy();
    const me = await gql(server, '{ me { username } }', undefined, { token: account.accessToken });
    expect(me.data).toEqual({ me: { username: account.username } });

    // A token signed with any other key is refused, over HTTP and at connection_init.
    const forged = await new SignJWT({ sid: payload.sid, roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(payload.sub))
      .setJti('x')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(testJwtSecret));
    expect(errorCodes(await gql(server, '{ auditLog { edges { cursor } } }', undefined, { token: forged }))).toEqual(['UNAUTHENTICATED']);
    const socket = connectSocket(server, { authorization: `Bearer ${forged}` });
    expect((await socket.closed).code).toBe(4403);
  });

  it('refuses to start on a secret file that is too short, naming the variable and not the secret', () => {
    const file = path.join(dir, 'short_secret');
    writeFileSync(file, 'tiny-secret');
    const result = spawnSync(process.execPath, [serverEntry], {
      env: { ...process.env, ...scaledEnv(), NODE_ENV: 'production', JWT_SECRET: '', JWT_SECRET_FILE: file, PORT: '0', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr + result.stdout).toContain('JWT_SECRET_FILE');
    expect(result.stderr + result.stdout).not.toContain('tiny-secret');
  });
});

/** One HTTPS request trusting only `ca`; resolves with status and body text. */
function httpsRequest(url: string, ca: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(url, { method: init.method ?? 'GET', ca, headers: init.headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end(init.body);
  });
}

describe('TLS_CERT / TLS_KEY', () => {
  it('serves https and wss on the same port, and nothing in plain text', async () => {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const ca = readFileSync(cert, 'utf8');
    const server = await startServer({ ...scaledEnv(), TLS_CERT: cert, TLS_KEY: key });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.wsUrl).toMatch(/^wss:/);

    expect((await httpsRequest(`${server.url}/healthz`, ca)).status).toBe(200);
    const post = (query: string, variables?: unknown) =>
      httpsRequest(server.graphqlUrl, ca, { method: 'POST', body: JSON.stringify({ query, variables }), headers: { 'content-type': 'application/json' } }).then((r) => JSON.parse(r.body));
    const username = uniqueName('tls');
    expect((await post(REGISTER, { input: { username, email: `${username}@example.test`, password: 'tls-password-1' } })).data.register.username).toBe(username);
    const login = await post(LOGIN, { input: { login: username, password: 'tls-password-1' } });
    const token = login.data.login.accessToken as string;

    const socket = await openAckedSocket(server.wsUrl, token, { ca });
    socket.send({ id: '1', type: 'subscribe', payload: { query: '{ me { username } }' } });
    expect(await socket.next((m) => m?.id === '1' && m.type === 'next')).toMatchObject({ payload: { data: { me: { username } } } });
    socket.ws.close(1000);

    // An untrusted certificate is refused by a client that checks, and plain http gets no GraphQL answer.
    await expect(httpsRequest(`${server.url}/healthz`, '')).rejects.toThrow();
    await expect(fetch(`${server.url.replace('https:', 'http:')}/healthz`).then((r) => r.status)).rejects.toThrow();

    // The Docker HEALTHCHECK speaks https when TLS_CERT is set.
    const port = new URL(server.url).port;
    expect(spawnSync(process.execPath, ['scripts/healthcheck.mjs'], { env: { ...process.env, PORT: port, TLS_CERT: cert } }).status).toBe(0);
    expect(spawnSync(process.execPath, ['scripts/healthcheck.mjs'], { env: { ...process.env, PORT: port, TLS_CERT: '' } }).status).toBe(1);
  });
});
