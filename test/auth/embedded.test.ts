/**
 * The same account and session behaviour in embedded mode (no DATABASE_URL,
 * no REDIS_URL: PGlite, in-process bus, state and rate limits), with
 * SINGLE_SESSION=false. Rows are counted through the admin's auditLog, as
 * the embedded database belongs to the server process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN, REGISTER, logIn, signUp } from '../helpers/accounts.ts';
import { errorCodes, gql, startServer, stopAllServers, uniqueName, type TestServer, embeddedDataDir } from '../helpers/server.ts';
import { createRoom, JOIN } from '../rooms/helpers.ts';
import { AUDIT_LOG, DELETE_ACCOUNT, DELETE_USER, LOGOUT, ME, NODE, REFRESH, REVOKE_SESSIONS, SET_ROLES, claimsOf } from './support.ts';

const dataDir = embeddedDataDir('switchboard-auth-');
const env = {
  DATA_DIR: dataDir,
  ADMIN_USER: 'root_admin',
  ADMIN_PASS: 'embedded-admin-password',
  SINGLE_SESSION: 'false',
  LOGIN_FAILURES_PER_ACCOUNT: '2',
  LOGIN_FAILURE_WINDOW: '2',
};
let server: TestServer;
let admin: string;

const auditKinds = async (userId: string) =>
  (await gql(server, AUDIT_LOG, { userId, first: 100 }, { token: admin })).data.auditLog.edges.map((e: any) => e.node.kind);
const meCode = async (token: string) => errorCodes(await gql(server, ME, {}, { token }))[0];

beforeAll(async () => {
  server = await startServer(env);
  expect(server.logs.join('\n')).toContain('"mode":"embedded"');
  admin = (await logIn(server, 'root_admin', 'embedded-admin-password')).accessToken;
});

afterAll(stopAllServers);

describe('embedded mode', () => {
  it('registers, logs in by username or email, and shows email only to its owner and admins', async () => {
    const a = await signUp(server);
    const b = await signUp(server);
    expect((await logIn(server, a.email.toUpperCase(), a.password)).user).toMatchObject({ id: a.id, email: a.email });
    expect((await gql(server, NODE, { id: a.id }, { token: b.accessToken })).data.node.email).toBeNull();
    expect((await gql(server, NODE, { id: a.id }, { token: admin })).data.node.email).toBe(a.email);
    expect((await gql(server, ME, {}, { token: a.accessToken })).data.me.email).toBe(a.email);
  });

  it('refuses bad and taken input, registering nothing', async () => {
    const a = await signUp(server);
    const before = (await gql(server, AUDIT_LOG, { kind: 'register', first: 100 }, { token: admin })).data.auditLog.edges.length;
    const bad = await gql(server, REGISTER, { input: { username: 'x', email: 'x@example.test', password: 'long-enough-password' } });
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0]!.extensions!.field).toBe('username');
    const taken = await gql(server, REGISTER, { input: { username: a.username.toUpperCase(), email: `${uniqueName()}@example.test`, password: 'long-enough-password' } });
    expect(errorCodes(taken)).toEqual(['CONFLICT']);
    const after = (await gql(server, AUDIT_LOG, { kind: 'register', first: 100 }, { token: admin })).data.auditLog.edges.length;
    expect(after).toBe(before);
  });

  it('SINGLE_SESSION=false: a second login leaves the first session alive', async () => {
    const a = await signUp(server);
    const second = await logIn(server, a.username, a.password);
    expect(claimsOf(second.accessToken).sid).not.toBe(claimsOf(a.accessToken).sid);
    expect((await gql(server, ME, {}, { token: a.accessToken })).data.me.id).toBe(a.id);
    expect((await gql(server, ME, {}, { token: second.accessToken })).data.me.id).toBe(a.id);
    expect(await auditKinds(a.id)).not.toContain('session_replaced');
  });

  it('refresh rotates; a reused token ends the session, newest access token included; logout ends a session', async () => {
    const a = await signUp(server);
    const rotated = (await gql(server, REFRESH, { token: a.refreshToken })).data.refresh;
    expect(claimsOf(rotated.accessToken).sid).toBe(claimsOf(a.accessToken).sid);
    expect(errorCodes(await gql(server, REFRESH, { token: a.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect(await meCode(rotated.accessToken)).toBe('UNAUTHENTICATED');
    expect(errorCodes(await gql(server, REFRESH, { token: rotated.refreshToken }))).toEqual(['UNAUTHENTICATED']);

    const again = await logIn(server, a.username, a.password);
    expect((await gql(server, LOGOUT, {}, { token: again.accessToken })).data.logout).toBe(true);
    expect(await meCode(again.accessToken)).toBe('UNAUTHENTICATED');
    expect(await auditKinds(a.id)).toEqual(['logout', 'login', 'refresh_reuse', 'refresh', 'login', 'register']);
  });

  it('limits failed logins in memory and lets the user in once retryAfter has passed', async () => {
    const a = await signUp(server);
    for (let i = 0; i < 2; i++) expect(errorCodes(await gql(server, LOGIN, { input: { login: a.username, password: 'wrong-password' } }))).toEqual(['UNAUTHENTICATED']);
    const limited = await gql(server, LOGIN, { input: { login: a.username, password: a.password } });
    expect(errorCodes(limited)).toEqual(['RATE_LIMITED']);
    const retryAfter = limited.errors![0]!.extensions!.retryAfter;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    // Clock: the rate-limit window has to end.
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    expect((await logIn(server, a.username, a.password)).user.id).toBe(a.id);
    expect(await auditKinds(a.id)).toEqual(expect.arrayContaining(['login_failed', 'rate_limited']));
  });

  it('admin operations: setRoles, revokeSessions, deleteUser; deleteAccount; each refused to a non-admin', async () => {
    const member = await signUp(server);
    const target = await signUp(server);
    for (const [query, vars] of [
      [SET_ROLES, { userId: target.id, roles: ['x'] }],
      [REVOKE_SESSIONS, { userId: target.id }],
      [DELETE_USER, { id: target.id }],
    ] as const) {
      expect(errorCodes(await gql(server, query, vars, { token: member.accessToken }))).toEqual(['FORBIDDEN']);
    }
    expect((await gql(server, ME, {}, { token: target.accessToken })).data.me.roles).toEqual([]);

    expect((await gql(server, SET_ROLES, { userId: target.id, roles: ['beta'] }, { token: admin })).data.setRoles.roles).toEqual(['beta']);
    expect(await meCode(target.accessToken)).toBe('UNAUTHENTICATED');
    const relogged = await logIn(server, target.username, target.password);
    expect((await gql(server, REVOKE_SESSIONS, { userId: target.id }, { token: admin })).data.revokeSessions).toBe(1);
    expect(await meCode(relogged.accessToken)).toBe('UNAUTHENTICATED');
    const last = await logIn(server, target.username, target.password);
    // The user leaves the rooms it joined (counted off) and takes those it owned with it, here on PGlite too.
    const joined = await createRoom(server, member.accessToken);
    await gql(server, JOIN, { id: joined.id }, { token: last.accessToken });
    const owned = await createRoom(server, last.accessToken);
    expect((await gql(server, DELETE_USER, { id: target.id }, { token: admin })).data.deleteUser).toBe(true);
    expect(await meCode(last.accessToken)).toBe('UNAUTHENTICATED');
    const ROOM = 'query($id: ID!) { room(id: $id) { memberCount } }';
    expect((await gql(server, ROOM, { id: joined.id }, { token: member.accessToken })).data.room).toEqual({ memberCount: 1 });
    expect((await gql(server, ROOM, { id: owned.id }, { token: admin })).data.room).toBeNull();
    expect(errorCodes(await gql(server, DELETE_USER, { id: target.id }, { token: admin }))).toEqual(['NOT_FOUND']);

    expect(errorCodes(await gql(server, DELETE_ACCOUNT, { password: 'not-it-at-all' }, { token: member.accessToken }))).toEqual(['BAD_USER_INPUT']);
    expect((await gql(server, DELETE_ACCOUNT, { password: member.password }, { token: member.accessToken })).data.deleteAccount).toBe(true);
    expect(errorCodes(await gql(server, LOGIN, { input: { login: member.username, password: member.password } }))).toEqual(['UNAUTHENTICATED']);
  });

  it('after a restart on the same data: revoked tokens stay refused, live ones work, the admin is not bootstrapped twice', async () => {
    const ended = await signUp(server);
    const live = await signUp(server);
    await gql(server, LOGOUT, {}, { token: ended.accessToken });
    await server.stop();
    server = await startServer(env);
    expect(await meCode(ended.accessToken)).toBe('UNAUTHENTICATED');
    expect((await gql(server, ME, {}, { token: live.accessToken })).data.me.id).toBe(live.id);
    admin = (await logIn(server, 'root_admin', 'embedded-admin-password')).accessToken;
    const bootstraps = await gql(server, AUDIT_LOG, { kind: 'admin_bootstrap' }, { token: admin });
    expect(bootstraps.data.auditLog.edges).toHaveLength(1);
    expect(server.logs.join('\n')).not.toContain('embedded-admin-password');
  });
});
