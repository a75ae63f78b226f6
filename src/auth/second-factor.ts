/**
 * Two-factor sign-in: TOTP (RFC 6238) through otplib, and ten one-time
 * recovery codes. The rules, once, for HTTP and WebSocket alike.
 *
 * - A signed-in user enrols (a new secret, shown as an otpauth:// URI) and
 *   confirms with a first code; confirming hands out the recovery codes,
 *   which are stored as SHA-256 digests only (they are 80 random bits: no
 *   slow hash needed).
 * - From then on a right password at `login` gets no session but a
 *   short-lived challenge (SECOND_FACTOR_REQUIRED); `pass` completes it.
 * - With ADMIN_REQUIRE_2FA, an admin without a second factor gets an
 *   enrolment challenge instead (SECOND_FACTOR_ENROLMENT_REQUIRED), good for
 *   `enrol` and `confirm` only: no token exists until the factor is confirmed.
 *
 * Codes are accepted one step either side of now (clock drift), and each at
 * most once: the last step used is kept per user in PostgreSQL and moved
 * forward by a conditional update, so a code replayed to another instance,
 * even at the same moment, is refused. Every second-step attempt first takes
 * a point from the failed-login budgets (src/auth/login-limits.ts), like a
 * password: an attacker who knows the password cannot guess codes past them.
 *
 * Challenges are JWTs (jose, HS256) under their own key, derived with HKDF
 * from the access-token signing key as device tokens are (src/auth/devices.ts,
 * `derivedKey` in src/auth/tokens.ts): stateless, so any instance completes
 * what another began.
 */
import { createHash, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { generateSecret, generateURI, verify } from 'otplib';
import type { GraphQLError } from 'graphql';
import type { Config } from '../core/config.ts';
import type { Database } from '../adapters/database.ts';
import { inTransaction, isUniqueViolation } from '../adapters/database.ts';
import type { Logger } from '../core/logger.ts';
import type { SharedState } from '../adapters/state.ts';
import { ErrorCode } from '../core/codes.ts';
import { appError, badInput, conflict, hasCode, unauthenticated } from '../core/errors.ts';
import type { Prisma, User } from '../generated/prisma/client.ts';
import { ADMIN_ROLE } from './accounts.ts';
import { recordAudit, type AuditInput } from './audit.ts';
import type { AnomalyWatch } from './anomalies.ts';
import { createLoginLimits, type LoginAttempt, type TakenAttempt } from './login-limits.ts';
import { derivedKey, type SigningKey } from './tokens.ts';

/** Seconds a challenge from `login` stays good. */
export const CHALLENGE_TTL_SECONDS = 300;
/** Recovery codes handed out at each confirmation. */
export const RECOVERY_CODE_COUNT = 10;
/** TOTP time step (RFC 6238's default, what every authenticator app uses). */
const PERIOD_SECONDS = 30;

/** Who enrols or confirms: a signed-in user, or an admin holding an enrolment challenge. */
export type Enrollee = { userId: string } | { challenge: string };

/** Where a request came from (src/auth/accounts.ts's Origin). */
interface From {
  ip: string | null;
  /** The request or connection id, for the log lines of audit events. */
  requestId?: string | null;
}

export interface SecondFactor {
  /**
   * After a right password: throws SECOND_FACTOR_REQUIRED (or, for an admin who must enrol,
   * SECOND_FACTOR_ENROLMENT_REQUIRED) carrying a challenge, or returns when no second step applies.
   * `deviceId`: the login's valid device token's id, whose budget the second step spends.
   */
  demand(user: User, deviceId: string | null, origin: From): Promise<void>;
  /**
   * The second step of a login: a code or a recovery code for the challenge. Takes a point from the
   * login budgets first; on success forgives them (as a right password does) and returns who signed in.
   */
  pass(challenge: string, code: string, origin: From): Promise<{ user: User; deviceId: string | null; method: 'totp' | 'recovery' }>;
  /** Starts (or restarts) an enrolment: a new secret, not yet in force. CONFLICT when a confirmed one exists. */
  enrol(who: Enrollee, origin: From): Promise<{ uri: string; secret: string }>;
  /** Confirms the pending enrolment with a first code; returns the recovery codes (shown once). */
  confirm(who: Enrollee, code: string, origin: From): Promise<{ user: User; deviceId: string | null; recoveryCodes: string[] }>;
  /** Removes the user's second factor; needs a current code (or an unused recovery code). */
  disable(userId: string, code: string, origin: From): Promise<void>;
  /** Whether the user has a confirmed second factor. */
  enabled(userId: string): Promise<boolean>;
}

export interface SecondFactorDeps {
  /** ADMIN_REQUIRE_2FA, TOTP_ISSUER and the failed-login budgets. */
  config: Config;
  db: Database;
  logger: Logger;
  /** Backs the failed-login budgets (the same counters as the password step). */
  state: SharedState;
  /** The access-token signing key, from which the challenge key is derived. */
  key: SigningKey;
  /** Sees every audit event, to flag sign-in anomalies (src/auth/anomalies.ts). */
  anomalies: AnomalyWatch;
}

interface ChallengeClaims {
  sub: string;
  /** The device id of the login's device token, or null. */
  did: string | null;
  /** verify: a code is asked for; enrol: only enrolment is allowed. */
  use: 'verify' | 'enrol';
}

type ParsedCode = { kind: 'totp'; token: string } | { kind: 'recovery'; hash: string };

const badCode = () => badInput('code', 'A code is the 6 digits the authenticator app shows, or a recovery code (16 letters and digits).');
const wrongCode = () => unauthenticated('The code is wrong, expired or already used.');
const badChallenge = () => unauthenticated('The sign-in challenge is invalid or expired. Sign in again.');
const hashRecoveryCode = (compact: string) => createHash('sha256').update(compact.toUpperCase(), 'utf8').digest('hex');

/** Reads a code as typed: spaces and dashes are ignored, letters in any case. */
function parseCode(raw: string): ParsedCode {
  if (typeof raw !== 'string' || raw.length > 64) throw badCode();
  const compact = raw.replace(/[\s-]/g, '');
  if (/^\d{6}$/.test(compact)) return { kind: 'totp', token: compact };
  if (/^[A-Za-z2-7]{16}$/.test(compact)) return { kind: 'recovery', hash: hashRecoveryCode(compact) };
  throw badCode();
}

/** A recovery code as shown: 16 base32 characters (80 random bits), lower case, in groups of four. */
function newRecoveryCode(): { shown: string; hash: string } {
  const compact = generateSecret({ length: 10 });
  return { shown: compact.toLowerCase().match(/.{4}/g)!.join('-'), hash: hashRecoveryCode(compact) };
}

export function createSecondFactor(deps: SecondFactorDeps): SecondFactor {
  const { config, db, logger, key } = deps;
  const loginLimits = createLoginLimits(deps.state, config);
  const audit = (event: AuditInput) => recordAudit({ db, logger, anomalies: deps.anomalies }, event);
  const challengeKey = derivedKey(key, 'second-factor challenges');

  async function readChallenge(token: string, use: ChallengeClaims['use']): Promise<ChallengeClaims> {
    if (typeof token !== 'string' || token.length > 1024) throw badChallenge();
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, await challengeKey, { algorithms: ['HS256'] }));
    } catch {
      throw badChallenge();
    }
    if (claims.typ !== 'second-factor' || claims.use !== use || typeof claims.sub !== 'string') throw badChallenge();
    return { sub: claims.sub, did: typeof claims.did === 'string' ? claims.did : null, use };
  }

  async function challengeError(user: User, deviceId: string | null, use: ChallengeClaims['use']): Promise<GraphQLError> {
    // Whole seconds, so that the expiry shown is the token's own `exp`.
    const expiresAt = Math.floor(Date.now() / 1000) + CHALLENGE_TTL_SECONDS;
    const challenge = await new SignJWT({ did: deviceId, use, typ: 'second-factor', jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(await challengeKey);
    const challengeExpiresAt = new Date(expiresAt * 1000).toISOString();
    return use === 'verify'
      ? appError(ErrorCode.SECOND_FACTOR_REQUIRED, 'This account signs in with a second factor: send a code from the authenticator app (or a recovery code) with loginWithSecondFactor.', {
          challenge,
          challengeExpiresAt,
          methods: ['TOTP', 'RECOVERY_CODE'],
        })
      : appError(ErrorCode.SECOND_FACTOR_ENROLMENT_REQUIRED, 'Admins must sign in with a second factor: enrol one with enrolSecondFactor and confirmSecondFactor, passing this challenge.', {
          challenge,
          challengeExpiresAt,
        });
  }

  /** Takes a login point before a code is checked (as before a password); a refusal is audited and thrown. */
  async function takeAttempt(attempt: LoginAttempt, origin: From): Promise<TakenAttempt> {
    try {
      return await loginLimits.take(attempt);
    } catch (error) {
      if (hasCode(error, ErrorCode.RATE_LIMITED)) {
        const retryAfter = Number((error as GraphQLError).extensions.retryAfter);
        await audit({ kind: 'rate_limited', userId: attempt.accountKey, ip: origin.ip, requestId: origin.requestId ?? null, detail: { rule: attempt.deviceId ? 'login-device' : 'login', retryAfter, during: 'second_factor' } });
      }
      throw error;
    }
  }

  /** Checks a TOTP code of a confirmed factor and, when right, claims its time step: a step at or before the last one used is a replay. */
  async function claimTotp(userId: string, factorSecret: string, lastUsedStep: number | null, token: string): Promise<'ok' | 'wrong' | 'replay'> {
    const result = await verify({ secret: factorSecret, token, period: PERIOD_SECONDS, epochTolerance: PERIOD_SECONDS });
    if (!result.valid || !('timeStep' in result)) return 'wrong';
    const step = result.timeStep;
    if (lastUsedStep !== null && step <= lastUsedStep) return 'replay';
    const claimed = await db.secondFactor.updateMany({
      where: { userId, secret: factorSecret, confirmedAt: { not: null }, OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: step } }] },
      data: { lastUsedStep: step },
    });
    // Another request (on any instance) claimed this step or a later one first.
    return claimed.count === 1 ? 'ok' : 'replay';
  }

  /** Spends an unused recovery code of the user's confirmed factor; returns how many are left, or null when it was not one. */
  async function spendRecoveryCode(userId: string, hash: string): Promise<number | null> {
    const spent = await db.recoveryCode.updateMany({ where: { userId, codeHash: hash, usedAt: null, factor: { confirmedAt: { not: null } } }, data: { usedAt: new Date() } });
    if (spent.count !== 1) return null;
    return db.recoveryCode.count({ where: { userId, usedAt: null } });
  }

  /** Checks a code of a confirmed factor (TOTP or recovery); audits a recovery code's use and any failure. */
  async function check(userId: string, code: ParsedCode, origin: From, during: string): Promise<boolean> {
    const factor = await db.secondFactor.findUnique({ where: { userId }, select: { secret: true, lastUsedStep: true, confirmedAt: true } });
    let outcome: 'ok' | 'wrong' | 'replay' = 'wrong';
    if (factor?.confirmedAt) {
      if (code.kind === 'totp') outcome = await claimTotp(userId, factor.secret, factor.lastUsedStep, code.token);
      else {
        const left = await spendRecoveryCode(userId, code.hash);
        if (left !== null) {
          outcome = 'ok';
          await audit({ kind: 'second_factor_recovery_used', userId, ip: origin.ip, requestId: origin.requestId ?? null, detail: { during, recoveryCodesLeft: left } });
        }
      }
    }
    if (outcome !== 'ok') await audit({ kind: 'second_factor_failed', userId, ip: origin.ip, requestId: origin.requestId ?? null, detail: { during, method: code.kind, reason: outcome } });
    return outcome === 'ok';
  }

  async function userOf(who: Enrollee): Promise<{ user: User; deviceId: string | null; viaChallenge: boolean }> {
    const claims = 'challenge' in who ? await readChallenge(who.challenge, 'enrol') : null;
    const user = await db.user.findUnique({ where: { id: claims?.sub ?? (who as { userId: string }).userId } });
    if (!user) throw claims ? badChallenge() : unauthenticated('Your account no longer exists.');
    return { user, deviceId: claims?.did ?? null, viaChallenge: claims !== null };
  }

  return {
    async demand(user, deviceId) {
      const factor = await db.secondFactor.findUnique({ where: { userId: user.id }, select: { confirmedAt: true } });
      if (factor?.confirmedAt) throw await challengeError(user, deviceId, 'verify');
      if (config.ADMIN_REQUIRE_2FA && user.roles.includes(ADMIN_ROLE)) throw await challengeError(user, deviceId, 'enrol');
    },

    async pass(challenge, rawCode, origin) {
      const claims = await readChallenge(challenge, 'verify');
      const code = parseCode(rawCode);
      const attempt = await takeAttempt({ accountKey: claims.sub, ip: origin.ip ?? 'unknown', deviceId: claims.did }, origin);
      const user = await db.user.findUnique({ where: { id: claims.sub } });
      if (!user) throw badChallenge();
      if (!(await check(user.id, code, origin, 'login'))) throw wrongCode();
      await attempt.succeeded();
      await audit({ kind: 'second_factor_passed', userId: user.id, ip: origin.ip, requestId: origin.requestId ?? null, detail: { method: code.kind } });
      return { user, deviceId: claims.did, method: code.kind };
    },

    async enrol(who) {
      const { user } = await userOf(who);
      const current = await db.secondFactor.findUnique({ where: { userId: user.id }, select: { confirmedAt: true } });
      if (current?.confirmedAt) throw conflict('secondFactor', 'A second factor is already enabled: disable it first to enrol another.');
      const factorSecret = generateSecret();
      // A pending enrolment is replaced (only the latest URI shown confirms); a confirmed one never is.
      if (current) {
        const replaced = await db.secondFactor.updateMany({ where: { userId: user.id, confirmedAt: null }, data: { secret: factorSecret, lastUsedStep: null } });
        if (replaced.count === 0) throw conflict('secondFactor', 'A second factor is already enabled: disable it first to enrol another.');
      } else {
        try {
          await db.secondFactor.create({ data: { userId: user.id, secret: factorSecret } });
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          throw conflict('secondFactor', 'Another enrolment of this account started at the same moment; try again.');
        }
      }
      const uri = generateURI({ issuer: config.TOTP_ISSUER, label: user.username, secret: factorSecret, period: PERIOD_SECONDS });
      return { uri, secret: factorSecret };
    },

    async confirm(who, rawCode, origin) {
      const { user, deviceId, viaChallenge } = await userOf(who);
      const code = parseCode(rawCode);
      if (code.kind !== 'totp') throw badInput('code', 'Confirm with a 6-digit code from the authenticator app.');
      // Confirming with a challenge is a sign-in: its attempts count like a second step's.
      const attempt = viaChallenge ? await takeAttempt({ accountKey: user.id, ip: origin.ip ?? 'unknown', deviceId }, origin) : null;
      const pending = await db.secondFactor.findUnique({ where: { userId: user.id }, select: { secret: true, confirmedAt: true, lastUsedStep: true } });
      if (!pending) throw badInput('code', 'Nothing to confirm: call enrolSecondFactor first.');
      if (pending.confirmedAt) throw conflict('secondFactor', 'The second factor is already enabled.');
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      const outcome = await inTransaction(db, async (tx) => {
        const result = await claimTotpIn(tx, user.id, pending.secret, code.token);
        if (result !== 'ok') return result;
        await tx.recoveryCode.deleteMany({ where: { userId: user.id } });
        await tx.recoveryCode.createMany({ data: codes.map((c) => ({ userId: user.id, codeHash: c.hash })) });
        return result;
      });
      if (outcome !== 'ok') {
        await audit({ kind: 'second_factor_failed', userId: user.id, ip: origin.ip, requestId: origin.requestId ?? null, detail: { during: 'confirm', method: 'totp', reason: outcome } });
        throw badInput('code', 'The code is wrong or expired: check the authenticator app\'s clock and try the current code.');
      }
      await attempt?.succeeded();
      await audit({ kind: 'second_factor_enrolled', userId: user.id, ip: origin.ip, requestId: origin.requestId ?? null, detail: { atSignIn: viaChallenge } });
      return { user, deviceId, recoveryCodes: codes.map((c) => c.shown) };
    },

    async disable(userId, rawCode, origin) {
      const code = parseCode(rawCode);
      const factor = await db.secondFactor.findUnique({ where: { userId }, select: { confirmedAt: true } });
      if (!factor?.confirmedAt) throw badInput('code', 'No second factor is enabled.');
      // A stolen session must not guess its way to removing the factor: the login budgets apply.
      const attempt = await takeAttempt({ accountKey: userId, ip: origin.ip ?? 'unknown', deviceId: null }, origin);
      if (!(await check(userId, code, origin, 'disable'))) throw badInput('code', 'The code is wrong, expired or already used.');
      await attempt.succeeded();
      await db.secondFactor.deleteMany({ where: { userId } });
      await audit({ kind: 'second_factor_disabled', userId, ip: origin.ip, requestId: origin.requestId ?? null, detail: { method: code.kind } });
    },

    async enabled(userId) {
      const factor = await db.secondFactor.findUnique({ where: { userId }, select: { confirmedAt: true } });
      return Boolean(factor?.confirmedAt);
    },
  };

  /** `claimTotp` for a pending factor, inside the confirming transaction (so the recovery codes come with it or not at all). */
  async function claimTotpIn(tx: Prisma.TransactionClient, userId: string, factorSecret: string, token: string): Promise<'ok' | 'wrong' | 'replay'> {
    const result = await verify({ secret: factorSecret, token, period: PERIOD_SECONDS, epochTolerance: PERIOD_SECONDS });
    if (!result.valid || !('timeStep' in result)) return 'wrong';
    const claimed = await tx.secondFactor.updateMany({
      where: { userId, secret: factorSecret, confirmedAt: null },
      data: { lastUsedStep: result.timeStep, confirmedAt: new Date() },
    });
    return claimed.count === 1 ? 'ok' : 'replay';
  }
}
