/**
 * What the auth tests share: the documents they send, a direct database
 * client to count rows (a refusal must change nothing), and requests sent
 * from a chosen loopback address (per-IP limits).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import pg from 'pg';
import { Redis } from 'ioredis';
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts';
import { keyPrefix } from '../../src/core/codes.ts';
import type { GraphQLResponse, TestServer } from '../helpers/server.ts';

export const ME = '{ me { id username email roles createdAt } }';
export const NODE = 'query Node($id: ID!) { node(id: $id) { id ... on User { username email roles } } }';
export const REFRESH = 'mutation Refresh($token: String) { refresh(refreshToken: $token) { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt user { id username email } } }';
export const LOGOUT = 'mutation { logout }';
export const DELETE_ACCOUNT = 'mutation DeleteAccount($password: String!) { deleteAccount(password: $password) }';
export const DELETE_USER = 'mutation DeleteUser($id: ID!) { deleteUser(id: $id) }';
export const SET_ROLES = 'mutation SetRoles($userId: ID!, $roles: [String!]!) { setRoles(userId: $userId, roles: $roles) { id username roles } }';
export const REVOKE_SESSIONS = 'mutation RevokeSessions($userId: ID!) { revokeSessions(userId: $userId) }';
export const AUDIT_LOG = `query AuditLog($first: Int, $after: String, $userId: ID, $kind: String) {
  auditLog(first: $first, after: $after, userId: $userId, kind: $kind) {
    edges { cursor node { id kind ip at detail user { id username } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

let client: pg.Client | undefined;

/** A direct client on the test database, opened once per file. */
export async function database(): Promise<pg.Client> {
  if (!client) {
    client = new pg.Client({ connectionString: testDatabaseUrl });
    await client.connect();
  }
  return client;
}

export async function closeDatabase(): Promise<void> {
  await client?.end();
  client = undefined;
}

/** One number from a `SELECT count(*) ...` query. */
export async function count(sql: string, params: unknown[] = []): Promise<number> {
  const result = await (await database()).query<{ n: string }>(sql.replace(/^SELECT count\(\*\)/i, 'SELECT count(*) AS n'), params);
  return Number(result.rows[0]!.n);
}

export { uuidOf } from '../helpers/server.ts';

export { claimsOf } from '../helpers/accounts.ts';
export const headerOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8'));

/** The refresh token a response's Set-Cookie carries, with the cookie's attributes. */
export function refreshCookie(response: GraphQLResponse): { value: string; attributes: string[] } | null {
  for (const header of response.headers.getSetCookie()) {
    const [pair, ...attributes] = header.split(';').map((p) => p.trim());
    const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
    if (name === 'sb_refresh') return { value, attributes };
  }
  return null;
}

/**
 * One GraphQL request over real HTTP from `localAddress` (any 127.x.y.z on
 * Linux), so the server sees a different client address.
 */
export function gqlFrom<T = any>(
  server: Pick<TestServer, 'graphqlUrl'>,
  localAddress: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLResponse<T>> {
  const url = new URL(server.graphqlUrl);
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => {
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            const headers = new Headers();
            for (const [name, value] of Object.entries(response.headers)) for (const v of [value ?? []].flat()) headers.append(name, v);
            resolve({ status: response.statusCode ?? 0, data: parsed.data ?? undefined, errors: parsed.errors, headers });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Forgets this file's rate-limit counters matching `rules` (a glob after `rl:`): failures an earlier test left count no more. */
export async function forgetRateLimits(rules = '*'): Promise<void> {
  const redis = new Redis(testRedisUrl);
  const stale = await redis.keys(`${keyPrefix()}rl:${rules}`);
  if (stale.length > 0) await redis.del(...stale);
  redis.disconnect();
}

/** A client's DPoP key pair (RFC 9449), its public JWK and thumbprint. */
export interface Key {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** A proof's `ath`: base64url(SHA-256(access token)). */
export const ath = async (token: string) => Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url');

/** A DPoP proof of `key` for `htm` `htu`; `overrides` change a claim or the header to make a bad one. */
export async function proofOf(key: Key, htm: string, htu: string, overrides: { accessToken?: string; iat?: number; jti?: string; typ?: string; ath?: string } = {}): Promise<string> {
  const claims: Record<string, unknown> = { htm, htu, jti: overrides.jti ?? randomUUID(), iat: overrides.iat ?? Math.floor(Date.now() / 1000) };
  if (overrides.ath !== undefined) claims.ath = overrides.ath;
  else if (overrides.accessToken) claims.ath = await ath(overrides.accessToken);
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: overrides.typ ?? 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
}
