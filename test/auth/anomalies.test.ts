/**
 * Sign-in anomalies (src/auth/anomalies.ts), each produced for real against
 * two instances on one PostgreSQL and one Redis: a user refreshing far more
 * than usual, failed second steps piling up, and a burst of refresh-token
 * reuse spread over both instances. Each is flagged once, at warn, in the
 * log and in /metrics. A user whose usual rate is high is flagged only past
 * five times it, not at the floor.
 */
import { generateSync } from 'otplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../src/core/codes.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { LOGIN, logIn, signUp } from '../helpers/accounts.ts';
import { errorCodes, gql, metric, scaledEnv, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { REFRESH } from './support.ts';

let servers: TestServer[];
beforeAll(async () => {
  const env = {
    ...scaledEnv(),
    SINGLE_SESSION: 'false',
    AUTH_ANOMALY_REFRESHES: '4',
    AUTH_ANOMALY_SECOND_FACTOR_FAILURES: '2',
    AUTH_ANOMALY_REUSE_BURST: '3',
    LOGIN_FAILURES_PER_ACCOUNT: '10',
  };
  servers = [await startServer(env), await startServer(env)];
});
afterAll(() => stopAllServers());

/** The warn lines of both instances that flag `anomaly`. */
const flagged = (anomaly: string) => servers.flatMap((s) => s.logs).filter((line) => line.includes(`"anomaly":"${anomaly}"`) && line.includes('"level":40'));

/** How many `kind` anomalies an instance has flagged (its /metrics). */
const anomalies = (server: TestServer, kind: string) => metric(server, 'switchboard_auth_anomalies_total', { kind });

describe('sign-in anomalies', () => {
  it('a user refreshing far above the usual is flagged once, on whichever instance crosses the line', async () => {
    const user = await signUp(servers[0]!);
    let token = user.refreshToken;
    // One more than AUTH_ANOMALY_REFRESHES over both instances, then two more: flagged once.
    for (let i = 0; i < 7; i++) {
      const answer = await gql(servers[i % 2]!, REFRESH, { token });
      expect(answer.errors).toBeUndefined();
      token = answer.data.refresh.refreshToken;
    }
    await expect.poll(() => flagged('refresh_rate').filter((line) => line.includes(userIdOf(user.accessToken))).length).toBe(1);
    expect((await anomalies(servers[0]!, 'refresh_rate')) + (await anomalies(servers[1]!, 'refresh_rate'))).toBe(1);
    // A user refreshing at an ordinary pace is not flagged.
    const calm = await signUp(servers[0]!);
    const answer = await gql(servers[0]!, REFRESH, { token: calm.refreshToken });
    expect(answer.errors).toBeUndefined();
    expect(flagged('refresh_rate').some((line) => line.includes(userIdOf(calm.accessToken)))).toBe(false);
  });

  it('a user who usually refreshes often is flagged past five times the usual, not at the floor', async () => {
    const windowMs = 10 * 60 * 1000;
    // Each refresh must count in one ten-minute window: start clear of a window's end.
    const intoWindow = Date.now() % windowMs;
    if (intoWindow > windowMs - 30_000) await new Promise((resolve) => setTimeout(resolve, windowMs - intoWindow + 100));
    const user = await signUp(servers[0]!);
    const userId = userIdOf(user.accessToken);
    // The 24 h before: 288 refreshes over the six windows just past, 2 per window on average over the 144 remembered,
    // so the line is 5 x 2 = 10, above the floor (AUTH_ANOMALY_REFRESHES = 4). Written straight into the counter:
    // a day of history cannot be made over HTTP.
    const redis = new Redis(testRedisUrl);
    const now = Math.floor(Date.now() / windowMs);
    await redis.hset(Keys.authAnomaly('refresh_rate', userId), Object.fromEntries(Array.from({ length: 6 }, (_, i) => [String(now - 1 - i), '48'])));
    redis.disconnect();
    const metricBefore = (await anomalies(servers[0]!, 'refresh_rate')) + (await anomalies(servers[1]!, 'refresh_rate'));
    let token = user.refreshToken;
    // Ten refreshes (the floor passed, the line not) and an eleventh: only the eleventh is flagged.
    for (let i = 0; i < 11; i++) {
      const answer = await gql(servers[i % 2]!, REFRESH, { token });
      expect(answer.errors).toBeUndefined();
      token = answer.data.refresh.refreshToken;
    }
    const lines = () => flagged('refresh_rate').filter((line) => line.includes(userId));
    await expect.poll(() => lines().length).toBe(1);
    expect(JSON.parse(lines()[0]!)).toMatchObject({ level: 40, anomaly: 'refresh_rate', userId, inTenMinutes: 11, usualPerTenMinutes: 2 });
    expect((await anomalies(servers[0]!, 'refresh_rate')) + (await anomalies(servers[1]!, 'refresh_rate'))).toBe(metricBefore + 1);
  });

  it('failed second steps far above the usual are flagged', async () => {
    const [a] = servers as [TestServer];
    const user = await signUp(a);
    const enrolled = await gql(a, 'mutation { enrolSecondFactor { secret } }', {}, { token: user.accessToken });
    const secret = enrolled.data.enrolSecondFactor.secret as string;
    const confirm = await gql(a, 'mutation($code: String!) { confirmSecondFactor(code: $code) { recoveryCodes } }', { code: generateSync({ secret }) }, { token: user.accessToken });
    expect(confirm.errors).toBeUndefined();
    const started = await gql(a, LOGIN, { input: { login: user.username, password: user.password } });
    expect(errorCodes(started)).toEqual(['SECOND_FACTOR_REQUIRED']);
    const challenge = started.errors![0]!.extensions!.challenge as string;
    const wrong = (Number(generateSync({ secret })) + 500_000) % 1_000_000;
    for (let i = 0; i < 3; i++) {
      const answer = await gql(servers[i % 2]!, 'mutation($input: SecondFactorLoginInput!) { loginWithSecondFactor(input: $input) { accessToken } }', { input: { challenge, code: String(wrong).padStart(6, '0') } });
      expect(errorCodes(answer)).toEqual(['UNAUTHENTICATED']);
    }
    await expect.poll(() => flagged('second_factor_failures').filter((line) => line.includes(userIdOf(user.accessToken))).length).toBe(1);
  });

  it('a burst of refresh-token reuse across the cluster is flagged once', async () => {
    const before = flagged('refresh_reuse_burst').length;
    for (let i = 0; i < 4; i++) {
      const user = await signUp(servers[0]!);
      const session = await logIn(servers[0]!, user.username, user.password);
      expect((await gql(servers[0]!, REFRESH, { token: session.refreshToken })).errors).toBeUndefined();
      // The rotated token presented again, on the other instance: a reuse.
      expect(errorCodes(await gql(servers[1]!, REFRESH, { token: session.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    }
    await expect.poll(() => flagged('refresh_reuse_burst').length - before).toBe(1);
  });
});

const userIdOf = (accessToken: string): string => JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')).sub;
