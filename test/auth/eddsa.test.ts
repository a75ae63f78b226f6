/**
 * EdDSA access tokens (JWT_ALGORITHM=EdDSA): signed with an Ed25519 private
 * key, verifiable by anyone from GET /.well-known/jwks.json, `alg` pinned on
 * verify so that no HS256 token (least of all one keyed with the public key)
 * passes; two instances sharing the key; a key rotated in with
 * JWT_PUBLIC_KEYS_FILE; the development key kept in DATA_DIR; keys that
 * cannot be used stop the start with one line. And HS256's secret rotated
 * the same way, with JWT_ACCEPTED_SECRETS_FILE.
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, type TestServer, temporaryFolder, embeddedDataDir, sharedServer, testJwtSecret } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { ME, claimsOf, headerOf } from './support.ts';
import { serverEntry } from '../../scripts/build.ts';

afterAll(stopAllServers);

const dir = temporaryFolder('switchboard-eddsa-');
const pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPemOf = (privatePem: string) => createPublicKey(privatePem).export({ type: 'spki', format: 'pem' }).toString();
const keyFile = (name: string, contents: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, contents);
  return file;
};
const eddsaEnv = (key: Record<string, string>) => ({ ...scaledEnv(), JWT_ALGORITHM: 'EdDSA', JWT_SECRET: undefined, ...key });
const jwksOf = async (server: TestServer) => fetch(`${server.url}/.well-known/jwks.json`);
const encodePart = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Accepted over HTTP (me answers) and over WebSocket (connection_init acked). */
async function expectAccepted(server: TestServer, token: string, username: string) {
  expect((await gql(server, ME, {}, { token })).data.me.username).toBe(username);
  const socket = connectSocket(server, { authorization: `Bearer ${token}` });
  await socket.acked;
  await socket.client.dispose();
}

/** Refused over HTTP (UNAUTHENTICATED) and at connection_init (4403). */
async function expectRefused(server: TestServer, token: string, what: string) {
  expect([what, errorCodes(await gql(server, ME, {}, { token }))]).toEqual([what, ['UNAUTHENTICATED']]);
  expect([what, (await connectSocket(server, { token }).closed).code]).toEqual([what, 4403]);
}

describe('JWT_ALGORITHM=EdDSA', () => {
  // One instance signing with keyedKey from a file (no NODE_ENV, nor other keys) serves each test here that needs
  // such an instance, as each start costs seconds of CPU (test/helpers/server.ts); tests only sign up users of their own on it.
  const keyedKey = pem();
  const keyedServer = sharedServer(eddsaEnv({ JWT_PRIVATE_KEY_FILE: keyFile('keyed.pem', keyedKey) }));

  it('signs with the Ed25519 key; the JWKS the server publishes verifies the token, and it works over HTTP and WebSocket', async () => {
    const server = await startServer(eddsaEnv({ NODE_ENV: 'production', JWT_PRIVATE_KEY_FILE: keyFile('signing.pem', pem()) }));
    const user = await signUp(server);
    const response = await jwksOf(server);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const jwks = await response.json();
    expect(jwks.keys).toHaveLength(1);
    expect(Object.keys(jwks.keys[0]).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(headerOf(user.accessToken)).toMatchObject({ alg: 'EdDSA', kid: jwks.keys[0].kid });

    const { payload } = await jwtVerify(user.accessToken, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
    expect(payload).toMatchObject({ sub: claimsOf(user.accessToken).sub, sid: expect.any(String), jti: expect.any(String), roles: [] });
    await expectAccepted(server, user.accessToken, user.username);
    expect((await fetch(`${server.url}/.well-known/jwks.json`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses HS256 tokens (keyed with the public key or with any secret), unsigned ones, another Ed25519 key and tampered claims', async () => {
    const server = await keyedServer();
    const user = await signUp(server);
    const claims = claimsOf(user.accessToken);
    const { keys } = await (await jwksOf(server)).json();
    const hs256 = (secret: string | Uint8Array) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
    const publicPem = createPublicKey({ key: keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const otherKey = generateKeyPairSync('ed25519').privateKey;
    const signedByOther = `${encodePart({ alg: 'EdDSA', typ: 'JWT', kid: keys[0].kid })}.${encodePart(claims)}`;
    const [header, , signature] = user.accessToken.split('.');
    const forgeries = {
      'HS256 keyed with the public PEM': await hs256(publicPem),
      'HS256 keyed with the public x': await hs256(Buffer.from(keys[0].x, 'base64url')),
      'HS256 keyed with the test secret': await hs256(testJwtSecret),
      unsigned: `${encodePart({ alg: 'none', typ: 'JWT' })}.${encodePart(claims)}.`,
      'another Ed25519 key under our kid': `${signedByOther}.${sign(null, Buffer.from(signedByOther), otherKey).toString('base64url')}`,
      'roles promoted': `${header}.${encodePart({ ...claims, roles: ['admin'] })}.${signature}`,
    };
    for (const [what, token] of Object.entries(forgeries)) await expectRefused(server, token, what);
    await expectAccepted(server, user.accessToken, user.username);
  });

  it('two instances given one key (a file; the PEM in JWT_PRIVATE_KEY with its line breaks written \\n) accept each other’s tokens', async () => {
    const key = keyedKey;
    const first = await keyedServer();
    const second = await startServer(eddsaEnv({ JWT_PRIVATE_KEY: key.replaceAll('\n', '\\n') }));
    const onFirst = await signUp(first);
    const onSecond = await signUp(second);
    await expectAccepted(second, onFirst.accessToken, onFirst.username);
    await expectAccepted(first, onSecond.accessToken, onSecond.username);
    expect(await (await jwksOf(first)).json()).toEqual(await (await jwksOf(second)).json());

    // An instance on a key of its own shares nothing with them.
    const stranger = await startServer(eddsaEnv({ JWT_PRIVATE_KEY_FILE: keyFile('stranger.pem', pem()) }));
    await expectRefused(stranger, onFirst.accessToken, 'a token of another key');
  });

  it('rotates keys with JWT_PUBLIC_KEYS_FILE: while instances sign with the old key and the new, each accepts the other’s tokens; once the old key is dropped, its tokens are refused', async () => {
    // The new key is keyedServer's: that instance, which knows no other key, is the one left once the rotation is done.
    const [oldKey, newKey] = [pem(), keyedKey];
    const oldFile = keyFile('rotate-old.pem', oldKey);
    const newFile = keyFile('rotate-new.pem', newKey);
    // Mid-rotation: one instance still signs with the old key, one already with the new; each accepts both.
    const stillOld = await startServer(eddsaEnv({ JWT_PRIVATE_KEY_FILE: oldFile, JWT_PUBLIC_KEYS_FILE: keyFile('accept-new.pem', publicPemOf(newKey)) }));
    const alreadyNew = await startServer(eddsaEnv({ JWT_PRIVATE_KEY_FILE: newFile, JWT_PUBLIC_KEYS_FILE: keyFile('accept-both.pem', `${publicPemOf(oldKey)}\n${publicPemOf(newKey)}`) }));
    const oldToken = await signUp(stillOld);
    const newToken = await signUp(alreadyNew);
    expect(headerOf(oldToken.accessToken).kid).not.toBe(headerOf(newToken.accessToken).kid);
    await expectAccepted(alreadyNew, oldToken.accessToken, oldToken.username);
    await expectAccepted(stillOld, newToken.accessToken, newToken.username);

    // Each publishes its signing key first, then the other, each once; either set verifies both tokens.
    const kids = async (server: TestServer) => (await (await jwksOf(server)).json()).keys.map((k: { kid: string }) => k.kid);
    expect(await kids(stillOld)).toEqual([headerOf(oldToken.accessToken).kid, headerOf(newToken.accessToken).kid]);
    expect(await kids(alreadyNew)).toEqual([headerOf(newToken.accessToken).kid, headerOf(oldToken.accessToken).kid]);
    const jwks = createLocalJWKSet(await (await jwksOf(stillOld)).json());
    for (const { accessToken } of [oldToken, newToken]) expect((await jwtVerify(accessToken, jwks, { algorithms: ['EdDSA'] })).payload.sub).toBeTruthy();

    // The kid only picks a key: a header changed (kid taken away, or swapped for the new key's) is refused, as any tampering.
    const [, payload, signature] = oldToken.accessToken.split('.');
    const { kid: _kid, ...withoutKid } = headerOf(oldToken.accessToken);
    await expectRefused(alreadyNew, `${encodePart(withoutKid)}.${payload}.${signature}`, 'the old key’s token without its kid');
    await expectRefused(alreadyNew, `${encodePart({ ...headerOf(oldToken.accessToken), kid: headerOf(newToken.accessToken).kid })}.${payload}.${signature}`, 'under the new kid');

    // Rotation done: the old key is no longer accepted anywhere.
    const done = await keyedServer();
    await expectRefused(done, oldToken.accessToken, 'a token of the retired key');
    await expectAccepted(done, newToken.accessToken, newToken.username);
  });

  it('embedded, without a key, generates one once into DATA_DIR (mode 600) and keeps it across restarts', async () => {
    const dataDir = embeddedDataDir('switchboard-eddsa-data-');
    const env = { ...eddsaEnv({ DATA_DIR: dataDir }), DATABASE_URL: undefined, REDIS_URL: undefined };
    const first = await startServer(env);
    const user = await signUp(first);
    const jwks = await (await jwksOf(first)).json();
    await first.stop();
    const file = path.join(dataDir, 'jwt-ed25519.pem');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const again = await startServer(env);
    expect(await (await jwksOf(again)).json()).toEqual(jwks);
    await expectAccepted(again, user.accessToken, user.username);
    await again.stop();
  }, 120_000);

  it('scaled, without a key, shares one generated key through the database across DATA_DIRs', async () => {
    const env = () => eddsaEnv({ DATA_DIR: temporaryFolder('switchboard-eddsa-data-') });
    const [a, b] = await Promise.all([startServer(env()), startServer(env())]);
    expect(await (await jwksOf(a)).json()).toEqual(await (await jwksOf(b)).json());
    const user = await signUp(a);
    await expectAccepted(b, user.accessToken, user.username);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('stops the start with one line naming the variable, never the key, when the key cannot be used', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ed448 = generateKeyPairSync('ed448').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const cases: [Record<string, string>, RegExp, string?][] = [
      [{ JWT_PRIVATE_KEY_FILE: keyFile('rsa.pem', rsa) }, /^invalid configuration: JWT_PRIVATE_KEY_FILE: .*rsa\.pem: must hold an Ed25519 private key, not rsa$/, rsa.split('\n')[1]],
      [{ JWT_PRIVATE_KEY: ed448 }, /^invalid configuration: JWT_PRIVATE_KEY: must hold an Ed25519 private key, not ed448$/, ed448.split('\n')[1]],
      [{ JWT_PRIVATE_KEY: 'not-a-key-at-all-0123456789' }, /^invalid configuration: JWT_PRIVATE_KEY: must hold an Ed25519 private key in PEM \(PKCS#8\)$/, 'not-a-key-at-all'],
      [{ JWT_PRIVATE_KEY_FILE: path.join(dir, 'absent.pem') }, /^invalid configuration: JWT_PRIVATE_KEY_FILE: cannot read .*absent\.pem \(ENOENT\)$/],
      [{ JWT_PRIVATE_KEY: pem(), JWT_PUBLIC_KEYS_FILE: keyFile('holds-private.pem', `${publicPemOf(pem())}${pem()}`) }, /^invalid configuration: JWT_PUBLIC_KEYS_FILE: .*holds-private\.pem: key 2 must be a public key \(BEGIN PUBLIC KEY\)$/],
      [{ JWT_PRIVATE_KEY: pem(), JWT_PUBLIC_KEYS_FILE: keyFile('rsa-public.pem', publicPemOf(rsa)) }, /^invalid configuration: JWT_PUBLIC_KEYS_FILE: .*rsa-public\.pem: key 1 must be an Ed25519 key, not rsa$/],
      [{ JWT_PRIVATE_KEY: pem(), JWT_PUBLIC_KEYS_FILE: keyFile('garbled.pem', '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n') }, /^invalid configuration: JWT_PUBLIC_KEYS_FILE: .*garbled\.pem: key 1 is not a readable PEM public key$/],
      [{ JWT_PRIVATE_KEY: pem(), JWT_PUBLIC_KEYS_FILE: keyFile('empty.pem', 'nothing here') }, /^invalid configuration: JWT_PUBLIC_KEYS_FILE: .*empty\.pem holds no PEM public key$/],
    ];
    for (const [key, message, secret] of cases) {
      const result = spawnSync(process.execPath, [serverEntry], {
        env: { ...process.env, ...eddsaEnv(key), JWT_SECRET: '', NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toMatch(message);
      if (secret) expect(result.stderr + result.stdout).not.toContain(secret);
    }
  });
});

describe('JWT_ALGORITHM=HS256 (the default)', () => {
  // One instance with the default environment (test/helpers/server.ts's JWT_SECRET) serves both tests that need it.
  const plainServer = sharedServer(scaledEnv());

  it('publishes no keys: /.well-known/jwks.json is not served', async () => {
    const server = await plainServer();
    const user = await signUp(server);
    expect(headerOf(user.accessToken).alg).toBe('HS256');
    expect((await jwksOf(server)).status).toBe(404);
  });

  it('rotates the secret with JWT_ACCEPTED_SECRETS_FILE: while instances sign with the old secret and the new, each accepts the other’s tokens; once the old secret is dropped, its tokens are refused', async () => {
    const secret = () => randomBytes(36).toString('base64url');
    // The new secret is the one plainServer signs with: that instance, which accepts no other, is the one left once the rotation is done.
    const [oldSecret, newSecret] = [secret(), testJwtSecret];
    const hs256Env = (own: string, accepted?: string[]) => ({
      ...scaledEnv(),
      JWT_SECRET: own,
      ...(accepted ? { JWT_ACCEPTED_SECRETS_FILE: keyFile(`accepted-${randomBytes(4).toString('hex')}.txt`, `# being rotated\n\n${accepted.join('\n')}\n`) } : {}),
    });
    const stillOld = await startServer(hs256Env(oldSecret, [newSecret]));
    const alreadyNew = await startServer(hs256Env(newSecret, [oldSecret, newSecret]));
    const oldToken = await signUp(stillOld);
    const newToken = await signUp(alreadyNew);
    // Each token names its secret; the kid is no part of the secret a client could read back.
    const [oldKid, newKid] = [headerOf(oldToken.accessToken).kid, headerOf(newToken.accessToken).kid];
    expect(typeof oldKid).toBe('string');
    expect(oldKid).not.toBe(newKid);
    for (const kid of [oldKid, newKid]) expect(oldSecret + newSecret).not.toContain(kid);
    await expectAccepted(alreadyNew, oldToken.accessToken, oldToken.username);
    await expectAccepted(stillOld, newToken.accessToken, newToken.username);

    // The kid only picks a secret: a header changed (kid taken away, or swapped for the new secret's) is refused.
    const [, payload, signature] = oldToken.accessToken.split('.');
    const { kid: _kid, ...withoutKid } = headerOf(oldToken.accessToken);
    await expectRefused(alreadyNew, `${encodePart(withoutKid)}.${payload}.${signature}`, 'the old secret’s token without its kid');
    await expectRefused(alreadyNew, `${encodePart({ ...headerOf(oldToken.accessToken), kid: newKid })}.${payload}.${signature}`, 'under the new kid');
    // A token signed with a secret nobody accepts, naming an accepted secret's kid, is refused too.
    const forged = await new SignJWT(claimsOf(oldToken.accessToken)).setProtectedHeader({ alg: 'HS256', kid: oldKid }).sign(new TextEncoder().encode(secret()));
    await expectRefused(alreadyNew, forged, 'a stranger’s secret under the old kid');

    // Rotation done: the old secret is no longer accepted anywhere; a token made before tokens had a kid still is, by its own secret.
    const done = await plainServer();
    await expectRefused(done, oldToken.accessToken, 'a token of the retired secret');
    await expectAccepted(done, newToken.accessToken, newToken.username);
    const { kid: _newKid, ...kidless } = headerOf(newToken.accessToken);
    const madeBefore = await new SignJWT(claimsOf(newToken.accessToken)).setProtectedHeader(kidless as { alg: string }).sign(new TextEncoder().encode(newSecret));
    await expectAccepted(done, madeBefore, newToken.username);
  });

  it('stops the start with one line naming the variable and the line, never a secret, when an accepted secret cannot be used', () => {
    const short = 'too-short-secret-0123456789';
    const cases: [Record<string, string>, RegExp, string?][] = [
      [{ JWT_ACCEPTED_SECRETS_FILE: keyFile('short.txt', `${randomBytes(36).toString('base64url')}\n${short}\n`) }, /^invalid configuration: JWT_ACCEPTED_SECRETS_FILE: .*short\.txt: line 2 must hold at least 32 characters$/, short],
      [{ JWT_ACCEPTED_SECRETS_FILE: keyFile('only-comments.txt', '# nothing yet\n\n') }, /^invalid configuration: JWT_ACCEPTED_SECRETS_FILE: .*only-comments\.txt holds no secret$/],
      [{ JWT_ACCEPTED_SECRETS_FILE: path.join(dir, 'absent.txt') }, /^invalid configuration: JWT_ACCEPTED_SECRETS_FILE: cannot read .*absent\.txt \(ENOENT\)$/],
    ];
    for (const [key, message, secret] of cases) {
      const result = spawnSync(process.execPath, [serverEntry], {
        env: { ...process.env, ...scaledEnv(), JWT_SECRET: randomBytes(36).toString('base64url'), ...key, NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toMatch(message);
      if (secret) expect(result.stderr + result.stdout).not.toContain(secret);
    }
  });
});
