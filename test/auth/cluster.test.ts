/**
 * Revocation that holds on every instance: two instances on one PostgreSQL
 * and one Redis. A session ended on one is refused by the other within a
 * second, with no database read per request; refresh-token reuse detected
 * on one instance ends the session on both; refresh also works over a live
 * WebSocket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logIn, signUp } from '../helpers/accounts.ts';
import { connectSocket, errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { LOGOUT, ME, REFRESH, REVOKE_SESSIONS, SET_ROLES, claimsOf, closeDatabase, count, uuidOf } from './support.ts';

let a: TestServer;
let b: TestServer;
const adminName = uniqueName('adm');
const adminPass = `admin-${uniqueName('p')}`;

beforeAll(async () => {
  const env = { ...scaledEnv(), ADMIN_USER: adminName, ADMIN_PASS: adminPass, LOGIN_FAILURE_WINDOW: '2' };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
});

afterAll(async () => {
  await stopAllServers();
  await closeDatabase();
});

/** True while `token` is refused by `server`. */
const refusedOn = async (server: TestServer, token: string) => errorCodes(await gql(server, ME, {}, { token }))[0] === 'UNAUTHENTICATED';
/**
 * Resolves once `server` refuses `token` to a request sent at most 1 s after
 * `since` (when the ending mutation answered); throws when even a request
 * sent later than that is still accepted. Judged by send time, so a slow
 * shared machine does not turn a prompt revocation into a failure.
 */
async function refusedWithinOneSecond(server: TestServer, token: string, since: number): Promise<void> {
  for (;;) {
    const sentAt = Date.now();
    if (await refusedOn(server, token)) return;
    if (sentAt - since > 1000) throw new Error(`still accepted by a request sent ${sentAt - since} ms after the session ended`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const acceptedOn = async (server: TestServer, token: string) => (await gql(server, ME, {}, { token })).data?.me != null;

describe('two instances, one database and one Redis', () => {
  it('both bootstrapped the same admin once', async () => {
    expect(await count('SELECT count(*) FROM "User" WHERE "usernameKey" = $1', [adminName.toLowerCase()])).toBe(1);
  });

  it('logout on A: the same access token is UNAUTHENTICATED on B within 1 s', async () => {
    const user = await signUp(a);
    expect(await acceptedOn(b, user.accessToken)).toBe(true);
    expect((await gql(a, LOGOUT, {}, { token: user.accessToken })).data.logout).toBe(true);
    await refusedWithinOneSecond(b, user.accessToken, Date.now());
    expect(await refusedOn(a, user.accessToken)).toBe(true);
  });

  it('refresh on A, reuse of the old refresh token on B: the session is revoked on both', async () => {
    const user = await signUp(a);
    const rotated = (await gql(a, REFRESH, { token: user.refreshToken })).data.refresh;
    expect(await acceptedOn(b, rotated.accessToken)).toBe(true);

    const reuse = await gql(b, REFRESH, { token: user.refreshToken });
    expect(errorCodes(reuse)).toEqual(['UNAUTHENTICATED']);
    const ended = Date.now();
    expect(await refusedOn(b, rotated.accessToken)).toBe(true);
    await refusedWithinOneSecond(a, rotated.accessToken, ended);
    expect(errorCodes(await gql(a, REFRESH, { token: rotated.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect(await count(`SELECT count(*) FROM "AuditEvent" WHERE kind = 'refresh_reuse' AND "userId" = $1`, [uuidOf(user.id)])).toBe(1);
  });

  it('a login on B ends the older session from A (single session) on both', async () => {
    const user = await signUp(a);
    const second = await logIn(b, user.username, user.password);
    const replaced = Date.now();
    expect(await refusedOn(b, user.accessToken)).toBe(true);
    await refusedWithinOneSecond(a, user.accessToken, replaced);
    expect(await acceptedOn(a, second.accessToken)).toBe(true);
  });

  it('admin revokeSessions and setRoles on B end the sessions on A', async () => {
    const admin = await logIn(b, adminName, adminPass);
    const revoked = await signUp(a);
    expect((await gql(b, REVOKE_SESSIONS, { userId: revoked.id }, { token: admin.accessToken })).data.revokeSessions).toBe(1);
    await refusedWithinOneSecond(a, revoked.accessToken, Date.now());

    const promoted = await signUp(a);
    expect((await gql(b, SET_ROLES, { userId: promoted.id, roles: ['moderator'] }, { token: admin.accessToken })).errors).toBeUndefined();
    await refusedWithinOneSecond(a, promoted.accessToken, Date.now());
    expect(claimsOf((await logIn(a, promoted.username, promoted.password)).accessToken).roles).toEqual(['moderator']);
  });

  it('an instance started after a revocation refuses the revoked token too', async () => {
    const user = await signUp(a);
    await gql(a, LOGOUT, {}, { token: user.accessToken });
    const late = await startServer({ ...scaledEnv(), LOGIN_FAILURE_WINDOW: '2' });
    expect(await refusedOn(late, user.accessToken)).toBe(true);
    await late.stop();
  });

  it('refresh over a live WebSocket returns new tokens that work on the other instance', async () => {
    const user = await signUp(a);
    const socket = connectSocket(b, { authorization: `Bearer ${user.accessToken}` });
    await socket.acked;
    const result = await new Promise<any>((resolve, reject) => {
      let value: any;
      socket.client.subscribe({ query: REFRESH, variables: { token: user.refreshToken } }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
    });
    expect(result.errors).toBeUndefined();
    const renewed = result.data.refresh;
    expect(claimsOf(renewed.accessToken).sid).toBe(claimsOf(user.accessToken).sid);
    expect(await acceptedOn(a, renewed.accessToken)).toBe(true);
    expect(errorCodes(await gql(a, REFRESH, { token: user.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    await socket.client.dispose();
  });
});
