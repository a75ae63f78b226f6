/**
 * Two-factor sign-in over real HTTP against two instances sharing PostgreSQL
 * and Redis: enrol, confirm, sign in with a code, a code replayed (to the
 * same instance, to the other, and to both at once) refused, recovery codes
 * good once, the login budgets spent by wrong codes, disabling, the admin
 * rule (ADMIN_REQUIRE_2FA) and the SDK's second step. Codes are computed
 * with otplib, as an authenticator app would.
 */
import { generateSync } from 'otplib';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN, signUp, type TestAccount } from '../helpers/accounts.ts';
import { errorCodes, gql, scaledEnv, type GraphQLResponse, startServer, stopAllServers, uniqueName, type TestServer } from '../helpers/server.ts';
import { SwitchboardClient, secondFactorChallenge } from '../../client/sdk.ts';
import { closeDatabase, count, database, gqlFrom, refreshCookie, uuidOf, forgetRateLimits } from './support.ts';

const ENROL = 'mutation Enrol($challenge: String) { enrolSecondFactor(challenge: $challenge) { uri secret } }';
const CONFIRM = `mutation Confirm($code: String!, $challenge: String) {
  confirmSecondFactor(code: $code, challenge: $challenge) { recoveryCodes session { accessToken user { username roles } } }
}`;
const SECOND_STEP = `mutation Second($input: SecondFactorLoginInput!) {
  loginWithSecondFactor(input: $input) { accessToken refreshToken deviceToken user { id username } }
}`;
const DISABLE = 'mutation Disable($code: String!) { disableSecondFactor(code: $code) }';
const STATUS = '{ me { id secondFactorEnabled } }';

/** The TOTP step (30 s) of this moment. */
const stepNow = () => Math.floor(Date.now() / 30_000);
/** The code an authenticator app shows during `step`. */
const codeOfStep = (secret: string, step: number) => generateSync({ secret, epoch: step * 30 });
/**
 * The code an authenticator app shows `stepsAhead` steps from now: for a code that must merely be current. A code
 * that must be one already spent is computed from the step that spent it (`codeOfStep`), as a step boundary may
 * pass between the two.
 */
const codeAt = (secret: string, stepsAhead = 0) => codeOfStep(secret, stepNow() + stepsAhead);

const auth = (token: string) => ({ token });


/** Enrols and confirms a second factor for a signed-in user; returns its secret, recovery codes and the step whose code confirmed it (spent). */
async function enable(server: TestServer, user: TestAccount): Promise<{ secret: string; recoveryCodes: string[]; confirmedStep: number }> {
  const enrolled = await gql(server, ENROL, {}, auth(user.accessToken));
  expect(enrolled.errors).toBeUndefined();
  const uri = new URL(enrolled.data.enrolSecondFactor.uri);
  const secret = uri.searchParams.get('secret')!;
  expect(secret).toBe(enrolled.data.enrolSecondFactor.secret);
  const confirmedStep = stepNow();
  const confirmed = await gql(server, CONFIRM, { code: codeOfStep(secret, confirmedStep) }, auth(user.accessToken));
  expect(confirmed.errors).toBeUndefined();
  return { secret, recoveryCodes: confirmed.data.confirmSecondFactor.recoveryCodes, confirmedStep };
}

/** Logs in with the password; expects the second step to be asked for and returns its challenge. */
async function challengeOf(server: TestServer, user: TestAccount, ip = '127.0.0.1'): Promise<string> {
  const response = await gqlFrom(server, ip, LOGIN, { input: { login: user.username, password: user.password } });
  expect(errorCodes(response)).toEqual(['SECOND_FACTOR_REQUIRED']);
  expect(response.data?.login ?? null).toBeNull();
  return response.errors![0]!.extensions!.challenge as string;
}

const auditKinds = async (userId: string) =>
  (await (await database()).query<{ kind: string }>(`SELECT kind FROM "AuditEvent" WHERE "userId" = $1 ORDER BY id`, [userId])).rows.map((r) => r.kind);

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  await forgetRateLimits();
  const env = { ...scaledEnv(), LOGIN_FAILURES_PER_ACCOUNT: '4', LOGIN_FAILURES_PER_IP: '50' };
  [a, b] = await Promise.all([startServer(env), startServer(env)]);
});
afterAll(async () => {
  await stopAllServers();
  await closeDatabase();
});

describe('enrolment and sign-in', () => {
  it('enrols with an otpauth URI, confirms with a first code, then login asks for a code; the code signs in on either instance once', async () => {
    const user = await signUp(a);
    const userId = uuidOf(user.id);
    expect((await gql(a, STATUS, {}, auth(user.accessToken))).data.me.secondFactorEnabled).toBe(false);

    const enrolled = await gql(a, ENROL, {}, auth(user.accessToken));
    const uri = new URL(enrolled.data.enrolSecondFactor.uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe(`/Switchboard:${user.username}`);
    expect(uri.searchParams.get('issuer')).toBe('Switchboard');
    const secret = uri.searchParams.get('secret')!;
    // Not in force before it is confirmed: login still gives tokens (and, single session, ends the first one).
    const login = await gql(a, LOGIN, { input: { login: user.username, password: user.password } });
    const token = login.data.login.accessToken as string;
    expect(token).toBeTruthy();

    // A wrong first code confirms nothing.
    const wrong = await gql(a, CONFIRM, { code: codeAt(secret, 5) }, auth(token));
    expect(errorCodes(wrong)).toEqual(['BAD_USER_INPUT']);
    expect(await count(`SELECT count(*) FROM "SecondFactor" WHERE "userId" = $1 AND "confirmedAt" IS NOT NULL`, [userId])).toBe(0);

    const confirmedStep = stepNow();
    const confirmed = await gql(a, CONFIRM, { code: codeOfStep(secret, confirmedStep) }, auth(token));
    expect(confirmed.errors).toBeUndefined();
    const codes = confirmed.data.confirmSecondFactor.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(confirmed.data.confirmSecondFactor.session).toBeNull();
    // Stored hashed: no row holds a code as shown or compacted.
    const stored = (await (await database()).query<{ codeHash: string }>(`SELECT "codeHash" FROM "RecoveryCode" WHERE "userId" = $1`, [userId])).rows;
    expect(stored).toHaveLength(10);
    for (const { codeHash } of stored) for (const code of codes) expect(codeHash.toLowerCase()).not.toContain(code.replaceAll('-', ''));
    expect((await gql(b, STATUS, {}, auth(token))).data.me.secondFactorEnabled).toBe(true);
    // Another user is not told.
    const other = await signUp(a);
    expect((await gql(a, `query ($id: ID!) { node(id: $id) { ... on User { secondFactorEnabled } } }`, { id: user.id }, auth(other.accessToken))).data.node.secondFactorEnabled).toBeNull();

    // The password alone: a challenge, no tokens, no cookie.
    const refused = await gql(a, LOGIN, { input: { login: user.username, password: user.password } });
    expect(errorCodes(refused)).toEqual(['SECOND_FACTOR_REQUIRED']);
    expect(refused.errors![0]!.extensions!.methods).toEqual(['TOTP', 'RECOVERY_CODE']);
    expect(Date.parse(refused.errors![0]!.extensions!.challengeExpiresAt as string)).toBeGreaterThan(Date.now());
    expect(refreshCookie(refused)).toBeNull();
    const challenge = refused.errors![0]!.extensions!.challenge as string;
    // The challenge is no access token.
    expect(errorCodes(await gql(a, STATUS, {}, auth(challenge)))).toEqual(['UNAUTHENTICATED']);

    // The code used to confirm is spent: it does not sign in.
    expect(errorCodes(await gql(b, SECOND_STEP, { input: { challenge, code: codeOfStep(secret, confirmedStep) } }))).toEqual(['UNAUTHENTICATED']);

    // The next step's code (within the ±1 window) signs in, on the other instance.
    const next = codeOfStep(secret, confirmedStep + 1);
    const signedIn = await gql(b, SECOND_STEP, { input: { challenge, code: next } });
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data.loginWithSecondFactor.user.username).toBe(user.username);
    expect(signedIn.data.loginWithSecondFactor.deviceToken).toBeTruthy();
    expect(refreshCookie(signedIn)).not.toBeNull();
    expect((await gql(a, STATUS, {}, auth(signedIn.data.loginWithSecondFactor.accessToken))).data.me.id).toBe(user.id);

    // Replayed: to the same instance and to the other (one challenge serves any instance).
    const later = await challengeOf(a, user, '127.0.7.1');
    expect(errorCodes(await gql(b, SECOND_STEP, { input: { challenge: later, code: next } }))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await gql(a, SECOND_STEP, { input: { challenge: later, code: next } }))).toEqual(['UNAUTHENTICATED']);
    // Two steps ahead is outside the window.
    expect(errorCodes(await gql(a, SECOND_STEP, { input: { challenge: later, code: codeAt(secret, 3) } }))).toEqual(['UNAUTHENTICATED']);

    const kinds = await auditKinds(userId);
    expect(kinds).toEqual(expect.arrayContaining(['second_factor_enrolled', 'second_factor_passed', 'second_factor_failed']));
    const failure = (await (await database()).query(`SELECT detail FROM "AuditEvent" WHERE "userId" = $1 AND kind = 'second_factor_failed' ORDER BY id`, [userId])).rows.map((r) => r.detail.reason);
    expect(failure).toEqual(expect.arrayContaining(['replay', 'wrong']));
  });

  it('one code sent to both instances at once signs in once', async () => {
    const user = await signUp(a);
    const { secret } = await enable(a, user);
    const code = codeAt(secret, 1);
    const [first, second] = await Promise.all([challengeOf(a, user, '127.0.8.1'), challengeOf(b, user, '127.0.8.2')]);
    const answers = await Promise.all([gql(a, SECOND_STEP, { input: { challenge: first, code } }), gql(b, SECOND_STEP, { input: { challenge: second, code } })]);
    const won = answers.filter((r) => r.data?.loginWithSecondFactor?.accessToken);
    expect(won).toHaveLength(1);
    expect(answers.flatMap(errorCodes)).toEqual(['UNAUTHENTICATED']);
  });

  it('a recovery code signs in once; written any case and with spaces it is the same code', async () => {
    const user = await signUp(a);
    const { recoveryCodes } = await enable(a, user);
    const [code] = recoveryCodes as [string];
    const typed = ` ${code.toUpperCase().replaceAll('-', ' ')} `;
    const signedIn = await gql(b, SECOND_STEP, { input: { challenge: await challengeOf(a, user), code: typed } });
    expect(signedIn.errors).toBeUndefined();
    expect(signedIn.data.loginWithSecondFactor.accessToken).toBeTruthy();
    expect(errorCodes(await gql(a, SECOND_STEP, { input: { challenge: await challengeOf(b, user), code } }))).toEqual(['UNAUTHENTICATED']);
    // Another of the ten still works.
    expect((await gql(a, SECOND_STEP, { input: { challenge: await challengeOf(a, user), code: recoveryCodes[1] } })).data.loginWithSecondFactor.accessToken).toBeTruthy();
    const used = (await (await database()).query(`SELECT detail FROM "AuditEvent" WHERE "userId" = $1 AND kind = 'second_factor_recovery_used' ORDER BY id`, [uuidOf(user.id)])).rows;
    expect(used.map((r) => r.detail.recoveryCodesLeft)).toEqual([9, 8]);
  });

  it('bad input is BAD_USER_INPUT and a bad challenge UNAUTHENTICATED, spending nothing', async () => {
    const user = await signUp(a);
    const { secret } = await enable(a, user);
    const challenge = await challengeOf(a, user);
    for (const code of ['12345', 'abc', '1234567', 'x'.repeat(100), '']) {
      expect(errorCodes(await gql(a, SECOND_STEP, { input: { challenge, code } }))).toEqual(['BAD_USER_INPUT']);
    }
    for (const bad of ['nonsense', `${challenge}x`, user.accessToken, 'a'.repeat(5000)]) {
      expect(errorCodes(await gql(a, SECOND_STEP, { input: { challenge: bad, code: codeAt(secret, 1) } }))).toEqual(['UNAUTHENTICATED']);
    }
    // None of it spent the code.
    expect((await gql(a, SECOND_STEP, { input: { challenge, code: codeAt(secret, 1) } })).data.loginWithSecondFactor.accessToken).toBeTruthy();
  });
});

describe('budgets', () => {
  it('wrong codes spend the login budget: past it even the right code is refused with RATE_LIMITED', async () => {
    const user = await signUp(a);
    const { secret } = await enable(a, user);
    const ip = '127.0.9.1';
    // The password step takes a point and, with a second step due, keeps it: 1 of 4.
    const challenge = await challengeOf(a, user, ip);
    for (let i = 0; i < 3; i++) {
      expect(errorCodes(await gqlFrom(b, ip, SECOND_STEP, { input: { challenge, code: i % 2 ? '000000' : '999999' } }))).toEqual(['UNAUTHENTICATED']);
    }
    const refused = await gqlFrom(a, ip, SECOND_STEP, { input: { challenge, code: codeAt(secret, 1) } });
    expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);
    // The right code was not checked: from another address (its own budget, and past the account's slowdown wait) it still works.
    const elsewhere = '127.0.9.2';
    const again = await untilAllowed(() => gqlFrom(a, elsewhere, LOGIN, { input: { login: user.username, password: user.password } }));
    expect(errorCodes(again)).toEqual(['SECOND_FACTOR_REQUIRED']);
    const challengeElsewhere = again.errors![0]!.extensions!.challenge as string;
    const accepted = await untilAllowed(() => gqlFrom(b, elsewhere, SECOND_STEP, { input: { challenge: challengeElsewhere, code: codeAt(secret, 1) } }));
    expect(accepted.errors).toBeUndefined();
    expect(await auditKinds(uuidOf(user.id))).toContain('rate_limited');
  });

  it('a right code forgives the budget, as a right password does', async () => {
    const user = await signUp(a);
    const { secret } = await enable(a, user);
    const ip = '127.0.9.3';
    const challenge = await challengeOf(a, user, ip);
    expect(errorCodes(await gqlFrom(a, ip, SECOND_STEP, { input: { challenge, code: '000000' } }))).toEqual(['UNAUTHENTICATED']);
    expect((await gqlFrom(a, ip, SECOND_STEP, { input: { challenge, code: codeAt(secret, 1) } })).data.loginWithSecondFactor.accessToken).toBeTruthy();
    // The four points are back: a login and three wrong codes pass the budget again.
    const next = await challengeOf(a, user, ip);
    for (let i = 0; i < 3; i++) expect(errorCodes(await gqlFrom(a, ip, SECOND_STEP, { input: { challenge: next, code: '000000' } }))).toEqual(['UNAUTHENTICATED']);
  });
});

/** Sends a request again while it is refused with RATE_LIMITED (the account's slowdown), after the retryAfter it names; at most 8 times. */
async function untilAllowed(send: () => Promise<GraphQLResponse>): Promise<GraphQLResponse> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const response = await send();
    if (errorCodes(response)[0] !== 'RATE_LIMITED') return response;
    await new Promise((r) => setTimeout(r, Number(response.errors![0]!.extensions!.retryAfter) * 1000));
  }
  throw new Error('still slowed down after 8 tries');
}

describe('disabling', () => {
  it('needs a current code (or a recovery code); afterwards login gives tokens at once', async () => {
    const user = await signUp(a);
    const { secret, recoveryCodes, confirmedStep } = await enable(a, user);
    const signedIn = await gql(a, SECOND_STEP, { input: { challenge: await challengeOf(a, user), code: recoveryCodes[0] } });
    const token = signedIn.data.loginWithSecondFactor.accessToken as string;
    expect(errorCodes(await gql(a, DISABLE, { code: '000000' }, auth(token)))).toEqual(['BAD_USER_INPUT']);
    // The code that confirmed is spent: refused as a replay (still inside the window, whichever step it is now).
    expect(errorCodes(await gql(a, DISABLE, { code: codeOfStep(secret, confirmedStep) }, auth(token)))).toEqual(['BAD_USER_INPUT']);
    const failures = (await (await database()).query(`SELECT detail FROM "AuditEvent" WHERE "userId" = $1 AND kind = 'second_factor_failed' ORDER BY id`, [uuidOf(user.id)])).rows;
    expect(failures.map((r) => [r.detail.during, r.detail.reason])).toEqual([['disable', 'wrong'], ['disable', 'replay']]);
    // The step after it is not spent, and current until two steps after the confirmation: it needs the session.
    const unspent = codeOfStep(secret, confirmedStep + 1);
    expect(errorCodes(await gql(a, DISABLE, { code: unspent }))).toEqual(['UNAUTHENTICATED']);
    expect((await gql(a, STATUS, {}, auth(token))).data.me.secondFactorEnabled).toBe(true);

    const off = await gql(b, DISABLE, { code: unspent }, auth(token));
    expect(off.errors).toBeUndefined();
    expect(off.data.disableSecondFactor).toBe(true);
    expect((await gql(a, STATUS, {}, auth(token))).data.me.secondFactorEnabled).toBe(false);
    expect(await count(`SELECT count(*) FROM "RecoveryCode" WHERE "userId" = $1`, [uuidOf(user.id)])).toBe(0);
    expect((await gql(a, LOGIN, { input: { login: user.username, password: user.password } })).data.login.accessToken).toBeTruthy();
    expect(await auditKinds(uuidOf(user.id))).toContain('second_factor_disabled');
  });
});

describe('ADMIN_REQUIRE_2FA', () => {
  let strict: TestServer;
  const admin = { username: uniqueName('adm'), password: `pw-${uniqueName('p')}` };
  beforeAll(async () => {
    strict = await startServer({ ...scaledEnv(), ADMIN_REQUIRE_2FA: 'true', ADMIN_USER: admin.username, ADMIN_PASS: admin.password });
  });

  it('an admin without a second factor can only enrol; confirming signs in; from then on a code is asked for', async () => {
    const refused = await gql(strict, LOGIN, { input: { login: admin.username, password: admin.password } });
    expect(errorCodes(refused)).toEqual(['SECOND_FACTOR_ENROLMENT_REQUIRED']);
    expect(refreshCookie(refused)).toBeNull();
    const challenge = refused.errors![0]!.extensions!.challenge as string;
    // The enrolment challenge is no token and no second step.
    expect(errorCodes(await gql(strict, STATUS, {}, auth(challenge)))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await gql(strict, SECOND_STEP, { input: { challenge, code: '123456' } }))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await gql(strict, DISABLE, { code: '123456' }, auth(challenge)))).toEqual(['UNAUTHENTICATED']);

    const enrolled = await gql(strict, ENROL, { challenge });
    expect(enrolled.errors).toBeUndefined();
    const secret = new URL(enrolled.data.enrolSecondFactor.uri).searchParams.get('secret')!;
    const confirmed = await gql(strict, CONFIRM, { code: codeAt(secret), challenge });
    expect(confirmed.errors).toBeUndefined();
    const session = confirmed.data.confirmSecondFactor.session;
    expect(session.user.roles).toContain('admin');
    expect(confirmed.data.confirmSecondFactor.recoveryCodes).toHaveLength(10);
    expect(refreshCookie(confirmed)).not.toBeNull();
    // A full admin session now.
    expect((await gql(strict, '{ auditLog(first: 1) { edges { node { kind } } } }', {}, auth(session.accessToken))).errors).toBeUndefined();
    // The challenge cannot enrol again.
    expect(errorCodes(await gql(strict, ENROL, { challenge }))).toEqual(['CONFLICT']);

    const again = await gql(strict, LOGIN, { input: { login: admin.username, password: admin.password } });
    expect(errorCodes(again)).toEqual(['SECOND_FACTOR_REQUIRED']);
  });

  it('users who are not admins sign in as before; with the rule off, admins do too', async () => {
    const user = await signUp(strict);
    expect(user.accessToken).toBeTruthy();
    const adminName = uniqueName('adm');
    const lax = await startServer({ ...scaledEnv(), ADMIN_USER: adminName, ADMIN_PASS: 'another-admin-password' });
    const response = await gql(lax, LOGIN, { input: { login: adminName, password: 'another-admin-password' } });
    expect(response.data.login.user.roles).toContain('admin');
  });
});

describe('SDK', () => {
  it('asks its prompt for a code and completes the login; without one, completeLogin finishes it', async () => {
    const user = await signUp(a);
    const { secret, recoveryCodes, confirmedStep } = await enable(a, user);
    const prompted = codeOfStep(secret, confirmedStep + 1);
    const asked: string[] = [];
    const client = new SwitchboardClient({ url: a.graphqlUrl, webSocketImpl: WebSocket, secondFactor: async (challenge) => (asked.push(challenge.challenge), prompted) });
    const signedIn = await client.login(user.username, user.password);
    expect(signedIn.username).toBe(user.username);
    expect(asked).toHaveLength(1);
    expect(client.tokens?.accessToken).toBeTruthy();
    client.close();

    const plain = new SwitchboardClient({ url: b.graphqlUrl, webSocketImpl: WebSocket });
    const error = await plain.login(user.username, user.password).catch((e: unknown) => e);
    expect(secondFactorChallenge(error)).toMatchObject({ enrolment: false });
    expect(plain.tokens).toBeNull();
    // The step the prompt used is spent; a recovery code finishes instead.
    await expect(plain.completeLogin(prompted)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await plain.completeLogin(recoveryCodes[0]!)).username).toBe(user.username);
    expect(plain.tokens?.accessToken).toBeTruthy();
    plain.close();
  });
});
