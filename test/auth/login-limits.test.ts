/**
 * The failed-login limits under attack: concurrent guesses (one instance and
 * two), an attacker who keeps an account locked while its owner signs in
 * with a device token, and the registration limit. Requests come from
 * distinct loopback addresses (127.0.0.x) so per-IP rules can be told apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REGISTER, signUp } from '../helpers/accounts.ts';
import { errorCodes, metric, scaledEnv, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { SwitchboardClient } from '../../client/sdk.ts';
import { closeDatabase, count, gqlFrom, uuidOf, forgetRateLimits } from './support.ts';

afterAll(async () => {
  await stopAllServers();
  await closeDatabase();
});

const LOGIN_WITH_DEVICE = `mutation Login($input: LoginInput!) { login(input: $input) { accessToken deviceToken user { id username } } }`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const loginFrom = (server: TestServer, ip: string, login: string, password: string, deviceToken?: string) =>
  gqlFrom(server, ip, LOGIN_WITH_DEVICE, { input: { login, password, ...(deviceToken ? { deviceToken } : {}) } });

/** bcrypt comparisons an instance has made (its /metrics). */
const passwordChecks = (server: TestServer) => metric(server, 'switchboard_password_hashing_total', { kind: 'verify' });


describe('concurrent guesses', () => {
  const budget = 5;
  let servers: TestServer[];
  beforeAll(async () => {
    await forgetRateLimits();
    const env = { ...scaledEnv(), LOGIN_FAILURES_PER_ACCOUNT: String(budget), LOGIN_FAILURES_PER_IP: '50', LOGIN_FAILURE_WINDOW: '60' };
    servers = await Promise.all([startServer(env), startServer(env)]);
  });

  /** 49 wrong passwords at once from one address, spread over `targets`, then the right one while they are in flight. */
  async function guessStorm(targets: TestServer[], ip: string) {
    const user = await signUp(targets[0]!);
    const before = await Promise.all(targets.map(passwordChecks));
    const wrong = Array.from({ length: 49 }, (_, i) => loginFrom(targets[i % targets.length]!, ip, user.username, `wrong-${i}`));
    await sleep(50);
    const right = await loginFrom(targets[1 % targets.length]!, ip, user.username, user.password);
    const answers = [...(await Promise.all(wrong)), right];
    const after = await Promise.all(targets.map(passwordChecks));
    const checked = after.reduce((sum, n, i) => sum + n - before[i]!, 0);
    return { user, answers, right, checked };
  }

  it('one instance: at most LOGIN_FAILURES_PER_ACCOUNT passwords are checked, the rest refused unhashed, the right one past the budget too', async () => {
    const { user, answers, right, checked } = await guessStorm([servers[0]!], '127.0.0.31');
    expect(checked).toBe(budget);
    const codes = answers.map((a) => errorCodes(a)[0]);
    expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(budget);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(50 - budget);
    expect(errorCodes(right)).toEqual(['RATE_LIMITED']);
    expect(await count('SELECT count(*) FROM "Session" WHERE "userId" = $1', [uuidOf(user.id)])).toBe(1);
  });

  it('two instances on one Redis: the budget holds across them', async () => {
    const { answers, right, checked } = await guessStorm(servers, '127.0.0.32');
    expect(checked).toBe(budget);
    expect(answers.filter((a) => errorCodes(a)[0] === 'RATE_LIMITED')).toHaveLength(50 - budget);
    expect(errorCodes(right)).toEqual(['RATE_LIMITED']);
  });
});

describe('device tokens: strangers cannot lock an account out', () => {
  let server: TestServer;
  beforeAll(async () => {
    await forgetRateLimits();
    server = await startServer({ ...scaledEnv(), LOGIN_FAILURES_PER_ACCOUNT: '3', LOGIN_FAILURES_PER_IP: '10', LOGIN_FAILURE_WINDOW: '30', LOGIN_SLOWDOWN_MAX: '2' });
  });

  /** An attacker burst: `n` wrong passwords at once, each from its own address in 127.0.<subnet>.x. */
  const attack = (login: string, subnet: number, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => loginFrom(server, `127.0.${subnet}.${i + 10}`, login, `guess-${i}`)));

  it('the owner with a device token signs in every time while the account is kept locked; without one, from elsewhere, is slowed, not locked out', async () => {
    const user = await signUp(server);
    const first = await loginFrom(server, '127.0.0.40', user.username, user.password);
    const deviceToken = first.data.login.deviceToken as string;
    expect(deviceToken).toEqual(expect.any(String));
    expect(first.headers.get('set-cookie')).toMatch(/sb_device=[^;]+;.*HttpOnly/);

    // The attacker's own address spends its (account, address) budget: locked there for the window, even with the right password.
    for (let i = 0; i < 3; i++) expect(errorCodes(await loginFrom(server, '127.0.0.41', user.username, `guess-${i}`))).toEqual(['UNAUTHENTICATED']);
    for (let round = 0; round < 3; round++) {
      await attack(user.username, 50 + round, 8);
      // Locked for the attacker's address whatever it sends...
      expect(errorCodes(await loginFrom(server, '127.0.0.41', user.username, user.password))).toEqual(['RATE_LIMITED']);
      // ...but not for the device that signed in before, whatever its address.
      const owner = await loginFrom(server, `127.0.0.${42 + round}`, user.username, user.password, deviceToken);
      expect(owner.errors).toBeUndefined();
      expect(owner.data.login.deviceToken).toBe(deviceToken);
    }

    // The owner on a new device waits at most LOGIN_SLOWDOWN_MAX (when the slowdown has not passed already on a busy machine), and gets in.
    await attack(user.username, 60, 8);
    const slowed = await loginFrom(server, '127.0.0.45', user.username, user.password);
    if (slowed.errors) {
      expect(errorCodes(slowed)).toEqual(['RATE_LIMITED']);
      const retryAfter = slowed.errors[0]!.extensions!.retryAfter as number;
      expect(retryAfter).toBeLessThanOrEqual(2);
      // Clock: the slowdown has to end.
      await sleep(retryAfter * 1000 + 100);
    }
    const late = slowed.errors ? await loginFrom(server, '127.0.0.45', user.username, user.password) : slowed;
    expect(late.errors).toBeUndefined();
    expect(late.data.login.deviceToken).not.toBe(deviceToken);
  });

  it("a device token of another account, or forged, counts for nothing; its own failures spend only the device's budget", async () => {
    const [owner, other] = [await signUp(server), await signUp(server)];
    const otherToken = (await loginFrom(server, '127.0.0.46', other.username, other.password)).data.login.deviceToken as string;
    const ownToken = (await loginFrom(server, '127.0.0.46', owner.username, owner.password)).data.login.deviceToken as string;
    const secondDevice = (await loginFrom(server, '127.0.0.46', owner.username, owner.password)).data.login.deviceToken as string;
    expect(secondDevice).not.toBe(ownToken);
    // 127.0.0.47 spends its own (account, address) budget: a client there without a valid device token is refused.
    for (let i = 0; i < 3; i++) expect(errorCodes(await loginFrom(server, '127.0.0.47', owner.username, `guess-${i}`))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await loginFrom(server, '127.0.0.47', owner.username, owner.password, otherToken))).toEqual(['RATE_LIMITED']);
    const forged = `${ownToken.slice(0, ownToken.lastIndexOf('.'))}.${'A'.repeat(43)}`;
    expect(errorCodes(await loginFrom(server, '127.0.0.47', owner.username, owner.password, forged))).toEqual(['RATE_LIMITED']);

    // The device guessing wrong locks only itself: three failures, then it is refused, while the account's other devices are not.
    for (let i = 0; i < 3; i++) expect(errorCodes(await loginFrom(server, '127.0.0.48', owner.username, 'wrong-password', ownToken))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await loginFrom(server, '127.0.0.48', owner.username, owner.password, ownToken))).toEqual(['RATE_LIMITED']);
    expect((await loginFrom(server, '127.0.0.48', owner.username, owner.password, secondDevice)).errors).toBeUndefined();
  });

  it('the SDK keeps the device token of a login and sends it with the next', async () => {
    const user = await signUp(server);
    const client = new SwitchboardClient({ url: server.graphqlUrl, webSocketImpl: WebSocket });
    await client.login(user.username, user.password);
    client.close();
    // The SDK's address spends its (account, address) budget: without the device token, the right password is refused there.
    for (let i = 0; i < 3; i++) expect(errorCodes(await loginFrom(server, '127.0.0.1', user.username, `guess-${i}`))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await loginFrom(server, '127.0.0.1', user.username, user.password))).toEqual(['RATE_LIMITED']);
    // Signed in before, so not locked out: by the email too, the same account.
    await client.login(user.email, user.password);
    client.close();
  });
});

describe('registration limit (REGISTER_PER_IP)', () => {
  // Both tests ask for the same limits and register from addresses of their own (127.0.0.90-91, 127.0.0.92),
  // whose budgets are counted apart: one instance serves both (a start costs seconds of CPU, test/helpers/server.ts).
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ ...scaledEnv(), REGISTER_PER_IP: '3', REGISTER_WINDOW: '60' });
  });

  it('an address past its registrations is refused before any hashing and nothing is created; another address registers', async () => {
    await forgetRateLimits();
    const register = (ip: string, username: string) => gqlFrom(server, ip, REGISTER, { input: { username, email: `${username}@example.test`, password: 'long-enough-password' } });
    const names = Array.from({ length: 10 }, () => uniqueName('reg'));
    const answers = await Promise.all(names.map((name) => register('127.0.0.90', name)));
    expect(answers.filter((a) => a.data?.register)).toHaveLength(3);
    const refused = answers.filter((a) => errorCodes(a)[0] === 'RATE_LIMITED');
    expect(refused).toHaveLength(7);
    expect(refused[0]!.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);
    expect(await count('SELECT count(*) FROM "User" WHERE "usernameKey" = ANY($1)', [names.map((n) => n.toLowerCase())])).toBe(3);
    expect((await register('127.0.0.91', uniqueName('reg'))).data.register.username).toEqual(expect.any(String));
  });

  it('a taken name costs a hash like a new one (its answer takes as long), and counts against the limit', async () => {
    await forgetRateLimits();
    const hashes = () => metric(server, 'switchboard_password_hashing_total', { kind: 'hash' });
    const name = uniqueName('taken');
    const register = () => gqlFrom(server, '127.0.0.92', REGISTER, { input: { username: name, email: `${name}@example.test`, password: 'long-enough-password' } });
    expect((await register()).errors).toBeUndefined();
    const before = await hashes();
    expect(errorCodes(await register())).toEqual(['CONFLICT']);
    expect(await hashes()).toBe(before + 1);
    expect(errorCodes(await register())).toEqual(['CONFLICT']);
    expect(errorCodes(await register())).toEqual(['RATE_LIMITED']);
  });
});
