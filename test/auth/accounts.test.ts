/**
 * Accounts and sessions over real HTTP on PostgreSQL + Redis: every
 * mutation's success and refusal paths (a refusal changes no row), email
 * visibility, refresh rotation and reuse detection, the refresh cookie,
 * single-session, admin operations and the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSRF_HEADER } from '../../src/core/codes.ts';
import { LOGIN, REGISTER, logIn, signUp, type TestAccount } from '../helpers/accounts.ts';
import { errorCodes, gql, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import {
  AUDIT_LOG,
  DELETE_ACCOUNT,
  DELETE_USER,
  LOGOUT,
  ME,
  NODE,
  REFRESH,
  REVOKE_SESSIONS,
  SET_ROLES,
  claimsOf,
  closeDatabase,
  count,
  database,
  headerOf,
  refreshCookie,
  uuidOf,
} from './support.ts';

let server: TestServer;
const adminName = uniqueName('adm');
const adminPass = `admin-${uniqueName('p')}`;
let admin: { accessToken: string; id: string };
/** Every password used here: none may appear in the logs. */
const passwords: string[] = [adminPass];

const users = () => count('SELECT count(*) FROM "User"');
const sessionsOf = (userGlobalId: string) => count('SELECT count(*) FROM "Session" WHERE "userId" = $1', [uuidOf(userGlobalId)]);
const auditCount = (kind: string, userGlobalId: string) => count('SELECT count(*) FROM "AuditEvent" WHERE kind = $1 AND "userId" = $2', [kind, uuidOf(userGlobalId)]);
const account = async (options?: Parameters<typeof signUp>[1]) => {
  const a = await signUp(server, options);
  passwords.push(a.password);
  return a;
};
const meCode = async (token: string) => errorCodes(await gql(server, ME, {}, { token }))[0];

beforeAll(async () => {
  // Failure windows kept short so failed logins here do not linger in the shared Redis.
  server = await startServer({ ...scaledEnv(), ADMIN_USER: adminName, ADMIN_PASS: adminPass, LOGIN_FAILURE_WINDOW: '2' });
  const tokens = await logIn(server, adminName, adminPass);
  admin = { accessToken: tokens.accessToken, id: tokens.user.id };
});

afterAll(async () => {
  await stopAllServers();
  await closeDatabase();
});

describe('register', () => {
  it('creates the user, shows the registrant its own email, stores only a bcrypt hash and audits it', async () => {
    const username = uniqueName('Reg');
    const password = `pw-${uniqueName()}`;
    passwords.push(password);
    const before = await users();
    const response = await gql(server, REGISTER, { input: { username, email: `${username}@Example.test`, password } });
    expect(response.errors).toBeUndefined();
    const user = response.data.register;
    expect(user).toMatchObject({ username, email: `${username}@Example.test`, roles: [] });
    expect(Buffer.from(user.id, 'base64').toString()).toMatch(/^User:[0-9a-f-]{36}$/);
    expect(new Date(user.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await users()).toBe(before + 1);
    const { rows } = await (await database()).query('SELECT "usernameKey", "emailKey", "passwordHash" FROM "User" WHERE id = $1', [uuidOf(user.id)]);
    expect(rows[0]).toMatchObject({ usernameKey: username.toLowerCase(), emailKey: `${username}@example.test`.toLowerCase() });
    expect(rows[0].passwordHash).toMatch(/^\$2[aby]\$04\$/);
    expect(rows[0].passwordHash).not.toContain(password);
    expect(await auditCount('register', user.id)).toBe(1);
  });

  it.each([
    ['username', { username: 'ab' }],
    ['username', { username: 'x'.repeat(33) }],
    ['username', { username: 'has space' }],
    ['username', { username: 'at@sign' }],
    ['email', { email: 'not-an-email' }],
    ['email', { email: '' }],
    ['password', { password: 'short7!' }],
    ['password', { password: 'p'.repeat(129) }],
  ])('refuses a bad %s (%j) with BAD_USER_INPUT naming the field, storing nothing', async (field, override) => {
    const username = uniqueName('bad');
    const input = { username, email: `${username}@example.test`, password: 'long-enough-password', ...override };
    const before = await users();
    const response = await gql(server, REGISTER, { input });
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.extensions!.field).toBe(field);
    expect(response.errors![0]!.message).toMatch(new RegExp(field, 'i'));
    expect(await users()).toBe(before);
  });

  it('accepts the edges of each rule: 3 and 32 characters, 8 and 128-character passwords', async () => {
    const short = `a${Math.random().toString(36).slice(2, 4)}`;
    const long = uniqueName('L').padEnd(32, '_').slice(0, 32);
    for (const [username, password] of [[short, 'p'.repeat(8)], [long, 'q'.repeat(128)]] as const) {
      const response = await gql(server, REGISTER, { input: { username, email: `${username}@example.test`, password } });
      if (response.errors?.[0]?.extensions?.code === 'CONFLICT') continue; // a 3-character name taken by an earlier run
      expect(response.errors).toBeUndefined();
      expect((await logIn(server, username, password)).user.username).toBe(username);
    }
  });

  it('refuses a taken username or email, whatever its case, with CONFLICT naming the field', async () => {
    const taken = await account();
    const before = await users();
    const sameName = await gql(server, REGISTER, { input: { username: taken.username.toUpperCase(), email: `${uniqueName()}@example.test`, password: 'long-enough-password' } });
    expect(errorCodes(sameName)).toEqual(['CONFLICT']);
    expect(sameName.errors![0]!.extensions!.field).toBe('username');
    const sameEmail = await gql(server, REGISTER, { input: { username: uniqueName('c'), email: taken.email.toUpperCase(), password: 'long-enough-password' } });
    expect(errorCodes(sameEmail)).toEqual(['CONFLICT']);
    expect(sameEmail.errors![0]!.extensions!.field).toBe('email');
    expect(await users()).toBe(before);
  });
});

describe('login', () => {
  it('accepts the username or the email in any case and returns a pinned-alg JWT with sub, sid, jti, roles, iat, exp', async () => {
    const a = await account();
    for (const login of [a.username.toUpperCase(), a.email.toUpperCase()]) {
      const response = await gql(server, LOGIN, { input: { login, password: a.password } });
      expect(response.errors).toBeUndefined();
      const payload = response.data.login;
      expect(payload.user).toMatchObject({ id: a.id, username: a.username, email: a.email, roles: [] });
      expect(headerOf(payload.accessToken).alg).toBe('HS256');
      const claims = claimsOf(payload.accessToken);
      expect(claims).toMatchObject({ sub: uuidOf(a.id), roles: [] });
      expect(claims.sid).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof claims.jti).toBe('string');
      // At least ACCESS_TOKEN_TTL: exp is rounded up to the next whole second.
      expect(claims.exp - claims.iat).toBeGreaterThanOrEqual(900);
      expect(claims.exp - claims.iat).toBeLessThanOrEqual(901);
      expect(new Date(payload.accessTokenExpiresAt).getTime()).toBe(claims.exp * 1000);
      expect(new Date(payload.refreshTokenExpiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 86_400_000);
      expect(Buffer.from(payload.refreshToken, 'base64url').length).toBeGreaterThanOrEqual(32);
      const cookie = refreshCookie(response)!;
      expect(cookie.value).toBe(payload.refreshToken);
      expect(cookie.attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/graphql']));
      expect(cookie.attributes).not.toContain('Secure');
    }
  });

  it('gives an unknown user and a wrong password the same UNAUTHENTICATED answer, starts no session and audits login_failed', async () => {
    const a = await account();
    const sessionsBefore = await sessionsOf(a.id);
    const wrong = await gql(server, LOGIN, { input: { login: a.username, password: 'wrong-password' } });
    const unknown = await gql(server, LOGIN, { input: { login: uniqueName('nobody'), password: 'wrong-password' } });
    expect(errorCodes(wrong)).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(unknown)).toEqual(['UNAUTHENTICATED']);
    expect(unknown.errors![0]!.message).toBe(wrong.errors![0]!.message);
    expect(wrong.data?.login ?? null).toBeNull();
    expect(refreshCookie(wrong)).toBeNull();
    expect(await sessionsOf(a.id)).toBe(sessionsBefore);
    expect(await auditCount('login_failed', a.id)).toBe(1);
  });

  it('refuses an empty login with BAD_USER_INPUT', async () => {
    const response = await gql(server, LOGIN, { input: { login: '', password: 'whatever-password' } });
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.extensions!.field).toBe('login');
  });
});

describe('me, node and email visibility', () => {
  it('me is null without a token and UNAUTHENTICATED with a bad one', async () => {
    const anonymous = await gql(server, ME);
    expect(anonymous.errors).toBeUndefined();
    expect(anonymous.data.me).toBeNull();
    expect(await meCode('not-a-jwt')).toBe('UNAUTHENTICATED');
    const a = await account();
    expect(await meCode(`${a.accessToken.slice(0, -2)}xx`)).toBe('UNAUTHENTICATED');
  });

  it('shows a user its own email and admins everyone\'s; others get null', async () => {
    const a = await account();
    const b = await account();
    const own = await gql(server, NODE, { id: a.id }, { token: a.accessToken });
    expect(own.data.node).toMatchObject({ id: a.id, username: a.username, email: a.email });
    const other = await gql(server, NODE, { id: a.id }, { token: b.accessToken });
    expect(other.errors).toBeUndefined();
    expect(other.data.node).toMatchObject({ id: a.id, username: a.username, email: null });
    const byAdmin = await gql(server, NODE, { id: a.id }, { token: admin.accessToken });
    expect(byAdmin.data.node.email).toBe(a.email);
    expect((await gql(server, ME, {}, { token: a.accessToken })).data.me).toMatchObject({ id: a.id, email: a.email });
  });

  it('node(id) shows anyone the public fields (email null) and answers null for a user that does not exist', async () => {
    const a = await account();
    const anonymous = await gql(server, NODE, { id: a.id });
    expect(anonymous.errors).toBeUndefined();
    expect(anonymous.data.node).toMatchObject({ id: a.id, username: a.username, email: null });
    const missing = Buffer.from('User:00000000-0000-4000-8000-000000000000').toString('base64');
    const response = await gql(server, NODE, { id: missing }, { token: a.accessToken });
    expect(response.errors).toBeUndefined();
    expect(response.data.node).toBeNull();
  });
});

describe('refresh', () => {
  it('rotates: a new pair for the same session (sid), taken from the argument or the cookie', async () => {
    const a = await account();
    const first = await gql(server, REFRESH, { token: a.refreshToken });
    expect(first.errors).toBeUndefined();
    const rotated = first.data.refresh;
    expect(rotated.refreshToken).not.toBe(a.refreshToken);
    expect(rotated.user).toMatchObject({ id: a.id, email: a.email });
    expect(claimsOf(rotated.accessToken).sid).toBe(claimsOf(a.accessToken).sid);
    expect(refreshCookie(first)!.value).toBe(rotated.refreshToken);
    expect((await gql(server, ME, {}, { token: rotated.accessToken })).data.me.id).toBe(a.id);

    // The cookie alone needs CSRF_HEADER (test/foundation/cross-origin.test.ts has the refusal).
    const byCookie = await gql(server, REFRESH, {}, { headers: { cookie: `other=1; sb_refresh=${rotated.refreshToken}`, [CSRF_HEADER]: '1' } });
    expect(byCookie.errors).toBeUndefined();
    expect(claimsOf(byCookie.data.refresh.accessToken).sid).toBe(claimsOf(a.accessToken).sid);
    expect(refreshCookie(byCookie)!.value).toBe(byCookie.data.refresh.refreshToken);
    expect(await auditCount('refresh', a.id)).toBe(2);
  });

  it('refuses a missing or unknown token with UNAUTHENTICATED and changes nothing', async () => {
    const tokensBefore = await count('SELECT count(*) FROM "RefreshToken"');
    expect(errorCodes(await gql(server, REFRESH, {}))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await gql(server, REFRESH, { token: 'made-up-token' }))).toEqual(['UNAUTHENTICATED']);
    expect(await count('SELECT count(*) FROM "RefreshToken"')).toBe(tokensBefore);
  });

  it('reuse: the same token twice fails the second time and ends the whole session, newest tokens included', async () => {
    const a = await account();
    const first = (await gql(server, REFRESH, { token: a.refreshToken })).data.refresh;
    expect((await gql(server, ME, {}, { token: first.accessToken })).data.me.id).toBe(a.id);
    const again = await gql(server, REFRESH, { token: a.refreshToken });
    expect(errorCodes(again)).toEqual(['UNAUTHENTICATED']);
    expect(again.errors![0]!.message).toMatch(/already used/);
    expect(await meCode(first.accessToken)).toBe('UNAUTHENTICATED');
    expect(await meCode(a.accessToken)).toBe('UNAUTHENTICATED');
    expect(errorCodes(await gql(server, REFRESH, { token: first.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    const { rows } = await (await database()).query('SELECT "revokedReason" FROM "Session" WHERE id = $1', [claimsOf(first.accessToken).sid]);
    expect(rows[0].revokedReason).toBe('refresh_reuse');
    expect(await auditCount('refresh_reuse', a.id)).toBe(1);
  });

  it('concurrent refreshes with one token: exactly one succeeds and the session ends (the other is a reuse)', async () => {
    const a = await account();
    const results = await Promise.all([gql(server, REFRESH, { token: a.refreshToken }), gql(server, REFRESH, { token: a.refreshToken })]);
    const ok = results.filter((r) => !r.errors);
    expect(ok.length).toBe(1);
    expect(results.flatMap(errorCodes)).toEqual(['UNAUTHENTICATED']);
    for (const r of ok) expect(await meCode(r.data.refresh.accessToken)).toBe('UNAUTHENTICATED');
  });
});

describe('logout', () => {
  it('ends the session: access and refresh tokens dead, cookie cleared, audited', async () => {
    const a = await account();
    const response = await gql(server, LOGOUT, {}, { token: a.accessToken });
    expect(response.errors).toBeUndefined();
    expect(response.data.logout).toBe(true);
    expect(refreshCookie(response)).toMatchObject({ value: '', attributes: expect.arrayContaining(['Max-Age=0', 'HttpOnly']) });
    expect(await meCode(a.accessToken)).toBe('UNAUTHENTICATED');
    expect(errorCodes(await gql(server, REFRESH, { token: a.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await gql(server, LOGOUT, {}, { token: a.accessToken }))).toEqual(['UNAUTHENTICATED']);
    expect(await auditCount('logout', a.id)).toBe(1);
  });

  it('without a token: UNAUTHENTICATED', async () => {
    expect(errorCodes(await gql(server, LOGOUT))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('single session (SINGLE_SESSION default true)', () => {
  it('a new login ends the older session (session_replaced) and only that user\'s', async () => {
    const a = await account();
    const bystander = await account();
    const second = await logIn(server, a.username, a.password);
    expect(await meCode(a.accessToken)).toBe('UNAUTHENTICATED');
    expect(errorCodes(await gql(server, REFRESH, { token: a.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect((await gql(server, ME, {}, { token: second.accessToken })).data.me.id).toBe(a.id);
    expect((await gql(server, ME, {}, { token: bystander.accessToken })).data.me.id).toBe(bystander.id);
    expect(await count(`SELECT count(*) FROM "Session" WHERE "userId" = $1 AND "revokedReason" = 'session_replaced'`, [uuidOf(a.id)])).toBe(1);
    expect(await auditCount('session_replaced', a.id)).toBe(1);
  });
});

describe('deleteAccount', () => {
  it('refuses a wrong password (BAD_USER_INPUT, field password) and keeps everything', async () => {
    const a = await account();
    const before = await users();
    const response = await gql(server, DELETE_ACCOUNT, { password: 'not-my-password' }, { token: a.accessToken });
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors![0]!.extensions!.field).toBe('password');
    expect(await users()).toBe(before);
    expect((await gql(server, ME, {}, { token: a.accessToken })).data.me.id).toBe(a.id);
    expect(errorCodes(await gql(server, DELETE_ACCOUNT, { password: a.password }))).toEqual(['UNAUTHENTICATED']);
    expect(await users()).toBe(before);
  });

  it('deletes the account with the right password and ends its sessions', async () => {
    const a = await account();
    const response = await gql(server, DELETE_ACCOUNT, { password: a.password }, { token: a.accessToken });
    expect(response.errors).toBeUndefined();
    expect(response.data.deleteAccount).toBe(true);
    expect(await count('SELECT count(*) FROM "User" WHERE id = $1', [uuidOf(a.id)])).toBe(0);
    expect(await meCode(a.accessToken)).toBe('UNAUTHENTICATED');
    expect(errorCodes(await gql(server, LOGIN, { input: { login: a.username, password: a.password } }))).toEqual(['UNAUTHENTICATED']);
    expect(await count(`SELECT count(*) FROM "AuditEvent" WHERE kind = 'user_deleted' AND detail->>'userId' = $1`, [uuidOf(a.id)])).toBe(1);
  });
});

describe('admin operations', () => {
  let member: TestAccount;
  beforeAll(async () => {
    member = await account();
  });

  it('the bootstrapped admin carries the admin role', async () => {
    const me = await gql(server, ME, {}, { token: admin.accessToken });
    expect(me.data.me).toMatchObject({ username: adminName, roles: ['admin'] });
  });

  it('refuses every admin operation to a non-admin (FORBIDDEN) and to nobody (UNAUTHENTICATED), changing nothing', async () => {
    const target = await account();
    const before = { users: await users(), sessions: await sessionsOf(target.id) };
    for (const [query, vars] of [
      [DELETE_USER, { id: target.id }],
      [SET_ROLES, { userId: target.id, roles: ['admin'] }],
      [REVOKE_SESSIONS, { userId: target.id }],
      [AUDIT_LOG, { first: 1 }],
    ] as const) {
      expect(errorCodes(await gql(server, query, vars, { token: member.accessToken }))).toEqual(['FORBIDDEN']);
      expect(errorCodes(await gql(server, query, vars))).toEqual(['UNAUTHENTICATED']);
    }
    expect(await users()).toBe(before.users);
    expect(await sessionsOf(target.id)).toBe(before.sessions);
    expect((await gql(server, ME, {}, { token: target.accessToken })).data.me).toMatchObject({ roles: [] });
  });

  it('refuses malformed ids (BAD_USER_INPUT) and unknown users (NOT_FOUND)', async () => {
    const missing = Buffer.from('User:00000000-0000-4000-8000-000000000000').toString('base64');
    const roomLike = Buffer.from(`Room:${uuidOf(member.id)}`).toString('base64');
    for (const [query, field, vars] of [
      [DELETE_USER, 'id', (id: string) => ({ id })],
      [SET_ROLES, 'userId', (id: string) => ({ userId: id, roles: [] })],
      [REVOKE_SESSIONS, 'userId', (id: string) => ({ userId: id })],
    ] as const) {
      for (const bad of ['garbage', roomLike]) {
        const response = await gql(server, query, vars(bad), { token: admin.accessToken });
        expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
        expect(response.errors![0]!.extensions!.field).toBe(field);
      }
      expect(errorCodes(await gql(server, query, vars(missing), { token: admin.accessToken }))).toEqual(['NOT_FOUND']);
    }
  });

  it('setRoles: refuses bad role names; a change ends the user\'s sessions (roles_changed); no change ends nothing', async () => {
    const target = await account();
    for (const roles of [['has space'], [''], ['x'.repeat(33)], Array.from({ length: 21 }, (_, i) => `r${i}`)]) {
      const response = await gql(server, SET_ROLES, { userId: target.id, roles }, { token: admin.accessToken });
      expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors![0]!.extensions!.field).toBe('roles');
    }
    expect((await gql(server, ME, {}, { token: target.accessToken })).data.me.roles).toEqual([]);

    const changed = await gql(server, SET_ROLES, { userId: target.id, roles: ['moderator', 'moderator', 'beta'] }, { token: admin.accessToken });
    expect(changed.errors).toBeUndefined();
    expect(changed.data.setRoles).toMatchObject({ id: target.id, roles: ['beta', 'moderator'] });
    expect(await meCode(target.accessToken)).toBe('UNAUTHENTICATED');
    expect(await count(`SELECT count(*) FROM "Session" WHERE "userId" = $1 AND "revokedReason" = 'roles_changed'`, [uuidOf(target.id)])).toBe(1);

    const fresh = await logIn(server, target.username, target.password);
    expect(claimsOf(fresh.accessToken).roles).toEqual(['beta', 'moderator']);
    const same = await gql(server, SET_ROLES, { userId: target.id, roles: ['moderator', 'beta'] }, { token: admin.accessToken });
    expect(same.errors).toBeUndefined();
    expect((await gql(server, ME, {}, { token: fresh.accessToken })).data.me.roles).toEqual(['beta', 'moderator']);
    expect(await auditCount('roles_changed', target.id)).toBe(1);
  });

  it('revokeSessions ends every session of the user and returns how many', async () => {
    const target = await account();
    const response = await gql(server, REVOKE_SESSIONS, { userId: target.id }, { token: admin.accessToken });
    expect(response.errors).toBeUndefined();
    expect(response.data.revokeSessions).toBe(1);
    expect(await meCode(target.accessToken)).toBe('UNAUTHENTICATED');
    expect(errorCodes(await gql(server, REFRESH, { token: target.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    expect((await gql(server, REVOKE_SESSIONS, { userId: target.id }, { token: admin.accessToken })).data.revokeSessions).toBe(0);
    expect(await auditCount('revoked', target.id)).toBe(2);
  });

  it('deleteUser removes the user and ends its sessions', async () => {
    const target = await account();
    const before = await users();
    const response = await gql(server, DELETE_USER, { id: target.id }, { token: admin.accessToken });
    expect(response.errors).toBeUndefined();
    expect(response.data.deleteUser).toBe(true);
    expect(await users()).toBe(before - 1);
    expect(await meCode(target.accessToken)).toBe('UNAUTHENTICATED');
    expect(errorCodes(await gql(server, DELETE_USER, { id: target.id }, { token: admin.accessToken }))).toEqual(['NOT_FOUND']);
  });
});

describe('auditLog', () => {
  it('pages newest first with first/after and filters by userId and kind; details hold no secrets', async () => {
    const a = await account();
    await gql(server, LOGIN, { input: { login: a.username, password: 'wrong-password' } });
    const second = await logIn(server, a.username, a.password);
    await gql(server, REFRESH, { token: second.refreshToken });
    await gql(server, LOGOUT, {}, { token: second.accessToken });

    const all = await gql(server, AUDIT_LOG, { userId: a.id, first: 50 }, { token: admin.accessToken });
    expect(all.errors).toBeUndefined();
    const kinds = all.data.auditLog.edges.map((e: any) => e.node.kind);
    expect(kinds).toEqual(['logout', 'refresh', 'login', 'session_replaced', 'login_failed', 'login', 'register']);
    for (const edge of all.data.auditLog.edges) {
      expect(edge.node.user).toMatchObject({ id: a.id, username: a.username });
      expect(edge.node.ip).toMatch(/127\.0\.0\.1/);
      const detail = JSON.stringify(edge.node.detail ?? {});
      expect(detail).not.toContain(a.password);
      expect(detail).not.toContain(second.refreshToken);
      expect(detail).not.toContain(second.accessToken);
    }
    expect(all.data.auditLog.pageInfo.hasNextPage).toBe(false);

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const response: any = await gql(server, AUDIT_LOG, { userId: a.id, first: 3, after }, { token: admin.accessToken });
      const connection = response.data.auditLog;
      seen.push(...connection.edges.map((e: any) => e.node.kind));
      expect(connection.edges.length).toBeLessThanOrEqual(3);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual(kinds);

    const logins = await gql(server, AUDIT_LOG, { userId: a.id, kind: 'login' }, { token: admin.accessToken });
    expect(logins.data.auditLog.edges.map((e: any) => e.node.kind)).toEqual(['login', 'login']);
    const byKind = await gql(server, AUDIT_LOG, { kind: 'register', first: 5 }, { token: admin.accessToken });
    expect(byKind.data.auditLog.edges.length).toBeGreaterThan(0);
    expect(byKind.data.auditLog.edges.every((e: any) => e.node.kind === 'register')).toBe(true);
  });

  it('refuses a bad page size or user id with BAD_USER_INPUT', async () => {
    for (const [vars, field] of [
      [{ first: -1 }, 'first'],
      [{ first: 101 }, 'first'],
      [{ userId: 'nope' }, 'userId'],
      [{ after: 'not-a-cursor' }, 'after'],
    ] as const) {
      const response = await gql(server, AUDIT_LOG, vars, { token: admin.accessToken });
      expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors![0]!.extensions!.field).toBe(field);
    }
  });
});

describe('logs', () => {
  it('never contain a password', () => {
    const logs = server.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const password of passwords) expect(logs).not.toContain(password);
  });

  it('never contain a password or token even at LOG_LEVEL=trace', async () => {
    const verbose = await startServer({ ...scaledEnv(), LOG_LEVEL: 'trace', LOGIN_FAILURE_WINDOW: '2' });
    const a = await signUp(verbose);
    await gql(verbose, LOGIN, { input: { login: a.username, password: `${a.password}-wrong` } });
    const rotated = (await gql(verbose, REFRESH, { token: a.refreshToken })).data.refresh;
    await gql(verbose, REFRESH, { token: a.refreshToken });
    await gql(verbose, DELETE_ACCOUNT, { password: a.password }, { token: rotated.accessToken });
    const logs = verbose.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [a.password, a.refreshToken, rotated.refreshToken, a.accessToken, rotated.accessToken]) expect(logs).not.toContain(secret);
    await verbose.stop();
  });
});
