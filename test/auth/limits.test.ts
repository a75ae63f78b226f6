/**
 * Failed-login limits (per account and per IP, on Redis) and the admin
 * bootstrap, on PostgreSQL + Redis. Requests come from distinct loopback
 * addresses (127.0.0.x) so that the per-IP rule can be told apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN, REGISTER, logIn, signUp } from '../helpers/accounts.ts';
import { errorCodes, gql, metric, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { SET_ROLES, closeDatabase, count, database, gqlFrom, uuidOf, forgetRateLimits } from './support.ts';

afterAll(async () => {
  await stopAllServers();
  await closeDatabase();
});

const loginFrom = (server: TestServer, ip: string, login: string, password: string) => gqlFrom(server, ip, LOGIN, { input: { login, password } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('failed-login limits', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Failures other tests of this file left on 127.0.0.1 (with their own, longer windows) would count here.
    await forgetRateLimits('*login-*');
    server = await startServer({ ...scaledEnv(), LOGIN_FAILURES_PER_ACCOUNT: '3', LOGIN_FAILURES_PER_IP: '5', LOGIN_FAILURE_WINDOW: '3' });
  });

  it('per account: after the budget of failures even the right password is RATE_LIMITED, from that address and (slowed) from any other, until retryAfter has passed', async () => {
    const user = await signUp(server);
    const sessionsOf = () => count('SELECT count(*) FROM "Session" WHERE "userId" = $1', [uuidOf(user.id)]);
    for (let i = 0; i < 3; i++) expect(errorCodes(await loginFrom(server, '127.0.0.2', user.username, 'wrong-password'))).toEqual(['UNAUTHENTICATED']);
    const sessions = await sessionsOf();

    const limited = await loginFrom(server, '127.0.0.2', user.username, user.password);
    expect(errorCodes(limited)).toEqual(['RATE_LIMITED']);
    const retryAfter = limited.errors![0]!.extensions!.retryAfter;
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3);
    expect(errorCodes(await loginFrom(server, '127.0.0.7', user.email, user.password))).toEqual(['RATE_LIMITED']);
    expect(await sessionsOf()).toBe(sessions);
    expect(await count(`SELECT count(*) FROM "AuditEvent" WHERE kind = 'rate_limited' AND "userId" = $1 AND ip LIKE '%127.0.0.2'`, [uuidOf(user.id)])).toBe(1);

    // Clock: the rate-limit window has to end.
    await sleep(retryAfter * 1000);
    const after = await loginFrom(server, '127.0.0.2', user.username, user.password);
    expect(after.errors).toBeUndefined();
    expect(after.data.login.user.username).toBe(user.username);
  });

  it('an unknown account is limited exactly like a known one: the answers do not tell whether it exists', async () => {
    const known = await signUp(server);
    const unknown = uniqueName('ghost');
    const answers = async (login: string, ip: string) => {
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await loginFrom(server, ip, login, 'wrong-password');
        seen.push(`${r.errors![0]!.extensions!.code}: ${r.errors![0]!.message}`);
      }
      return seen;
    };
    expect(await answers(unknown, '127.0.0.3')).toEqual(await answers(known.username, '127.0.0.4'));
  });

  it('per IP: an address that spent its budget is refused, while the same user from another address signs in', async () => {
    const user = await signUp(server);
    for (let i = 0; i < 5; i++) {
      expect(errorCodes(await loginFrom(server, '127.0.0.5', uniqueName(`nobody${i}`), 'wrong-password'))).toEqual(['UNAUTHENTICATED']);
    }
    const limited = await loginFrom(server, '127.0.0.5', user.username, user.password);
    expect(errorCodes(limited)).toEqual(['RATE_LIMITED']);
    expect(limited.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
    const elsewhere = await loginFrom(server, '127.0.0.6', user.username, user.password);
    expect(elsewhere.errors).toBeUndefined();
  });
});

describe('password checks waiting for a core (PASSWORD_QUEUE_MAX_WAIT)', () => {
  it('past the wait allowed, a login is refused at once with RATE_LIMITED and a retryAfter, and changes nothing', async () => {
    // Hashes of cost 11 (about 0.1 s each here) one core short of the machine: 60 logins at once queue for seconds.
    // The failure budget is taken before hashing, by logins in flight too: raised here, where only the queue is under test.
    const server = await startServer({ ...scaledEnv(), BCRYPT_COST: '11', PASSWORD_QUEUE_MAX_WAIT: '0.5', LOGIN_FAILURES_PER_ACCOUNT: '1000' });
    const user = await signUp(server);
    const hitsOf = () => metric(server, 'switchboard_rate_limit_hits_total', { kind: 'password-queue' });
    const sessionsOf = () => count('SELECT count(*) FROM "Session" WHERE "userId" = $1', [uuidOf(user.id)]);
    const [sessions, hits] = await Promise.all([sessionsOf(), hitsOf()]);

    const answers = await Promise.all(Array.from({ length: 60 }, () => gql(server, LOGIN, { input: { login: user.username, password: user.password } })));
    const taken = answers.filter((answer) => answer.data?.login?.accessToken);
    const refused = answers.filter((answer) => errorCodes(answer)[0] === 'RATE_LIMITED');
    expect(taken.length + refused.length).toBe(60);
    expect(taken.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.errors![0]!.message).toMatch(/busy/);
      expect(answer.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);
    }
    expect(await sessionsOf()).toBe(sessions + taken.length);
    expect(await hitsOf()).toBe(hits + refused.length);
    // A refusal is no failed attempt: the account's budget is untouched, and once the queue is short a login goes through.
    expect((await gql(server, LOGIN, { input: { login: user.username, password: user.password } })).data.login.accessToken).toEqual(expect.any(String));
  });
});

describe('admin bootstrap (ADMIN_USER / ADMIN_PASS)', () => {
  const bootstrapEvents = (name: string) =>
    count(`SELECT count(*) FROM "AuditEvent" a JOIN "User" u ON u.id = a."userId" WHERE a.kind = 'admin_bootstrap' AND u."usernameKey" = $1`, [name.toLowerCase()]);
  const adminRow = async (name: string) => (await (await database()).query('SELECT roles FROM "User" WHERE "usernameKey" = $1', [name.toLowerCase()])).rows;

  it('creates the admin once; restarts with the same values change nothing; a new ADMIN_PASS replaces the password', async () => {
    const name = uniqueName('Boot');
    const env = { ...scaledEnv(), ADMIN_USER: name, ADMIN_PASS: 'first-admin-password', LOGIN_FAILURE_WINDOW: '2' };
    await (await startServer(env)).stop();
    const again = await startServer(env);
    expect(await adminRow(name)).toEqual([{ roles: ['admin'] }]);
    expect(await bootstrapEvents(name)).toBe(1);
    expect((await logIn(again, name, 'first-admin-password')).user.roles).toEqual(['admin']);
    await again.stop();

    const changed = await startServer({ ...env, ADMIN_PASS: 'second-admin-password' });
    expect(await adminRow(name)).toEqual([{ roles: ['admin'] }]);
    expect(await bootstrapEvents(name)).toBe(2);
    expect(errorCodes(await gql(changed, LOGIN, { input: { login: name, password: 'first-admin-password' } }))).toEqual(['UNAUTHENTICATED']);
    expect((await logIn(changed, name, 'second-admin-password')).user.roles).toEqual(['admin']);
    expect(changed.logs.join('\n')).not.toContain('second-admin-password');
    await changed.stop();
  });

  it('promotes an existing account of that name, keeping its other roles; two instances starting together make one admin', async () => {
    const together = uniqueName('twin');
    const env = { ...scaledEnv(), ADMIN_USER: together, ADMIN_PASS: 'twin-admin-password' };
    const servers = await Promise.all([startServer(env), startServer(env)]);
    expect(await adminRow(together)).toEqual([{ roles: ['admin'] }]);

    // The account to promote is made, and given another role by that admin, on one of the twins: an instance
    // of its own for it would cost seconds of CPU more (test/helpers/server.ts).
    const plain = servers[0];
    const name = uniqueName('pre');
    expect((await gql(plain, REGISTER, { input: { username: name, email: `${name}@example.test`, password: 'user-password-1' } })).errors).toBeUndefined();
    const admin = await logIn(plain, together, 'twin-admin-password');
    const id = Buffer.from(`User:${(await (await database()).query('SELECT id FROM "User" WHERE "usernameKey" = $1', [name.toLowerCase()])).rows[0].id}`).toString('base64');
    expect((await gql(plain, SET_ROLES, { userId: id, roles: ['beta'] }, { token: admin.accessToken })).errors).toBeUndefined();
    await Promise.all(servers.map((s) => s.stop()));

    const promoted = await startServer({ ...scaledEnv(), ADMIN_USER: name, ADMIN_PASS: 'user-password-1' });
    expect(await adminRow(name)).toEqual([{ roles: ['beta', 'admin'] }]);
    await promoted.stop();
  });
});
