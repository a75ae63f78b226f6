/**
 * Accounts and sessions: the rules, once, for HTTP and WebSocket alike.
 *
 * A session is one login's refresh-token family; its id is the access
 * token's `sid` and stays the same across refreshes. Every ended session
 * goes through `revocations.revoke`, which makes its access tokens dead on
 * every instance and tells the realtime layer to close its sockets.
 */
import type { GraphQLError } from 'graphql';
import { z } from 'zod';
import { textSchema } from '../core/text.ts';
import type { Viewer } from '../context.ts';
import type { Config } from '../core/config.ts';
import { inTransaction, isUniqueViolation, type Database } from '../adapters/database.ts';
import type { Logger } from '../core/logger.ts';
import type { SharedState } from '../adapters/state.ts';
import type { SessionEndReason } from '../core/codes.ts';
import { badInput, conflict, forbidden, hasCode, notFound, unauthenticated } from '../core/errors.ts';
import { DpopReason, ErrorCode } from '../core/codes.ts';
import { dpopError } from './dpop.ts';
import { consumeOrThrow, createRateLimiter } from '../adapters/rate-limit.ts';
import type { Prisma, User } from '../generated/prisma/client.ts';
import { recordAudit, type AuditInput, type AuditKind } from './audit.ts';
import { createPasswordHasher } from './passwords.ts';
import type { DeviceTokens } from './devices.ts';
import type { AnomalyWatch } from './anomalies.ts';
import { createLoginLimits, type LoginAttempt, type TakenAttempt } from './login-limits.ts';
import { hashRefreshToken, newRefreshToken, type TokenSigner } from './tokens.ts';
import type { Revocations } from './revocation.ts';
import type { SecondFactor } from './second-factor.ts';

/** Where a request came from, for the audit log, rate limits and the session record. */
export interface Origin {
  /** The client's address (ctx.ip). */
  ip: string | null;
  /** Kept on the session record. @default null */
  userAgent?: string | null;
  /** The request (HTTP) or connection (WebSocket) id, for the log line of its audit events. @default null */
  requestId?: string | null;
  /**
   * DPoP: the thumbprint of the key whose proof came with the request (verified by src/auth/dpop.ts).
   * A login or refresh with one binds the session and its tokens to that key. @default null
   */
  jkt?: string | null;
}

/** Where an audit event came from: the caller's address and its request. */
const cameFrom = (origin: Origin) => ({ ip: origin.ip, requestId: origin.requestId ?? null });

/** What login and refresh hand back. */
export interface IssuedSession {
  user: User;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  /** The viewer the new access token stands for (for `LiveConnection.renew`). */
  viewer: Viewer;
  /** After a login: the client's device token for this account (src/auth/devices.ts); null after a refresh. */
  device: { token: string; expiresAt: Date } | null;
}

export interface Accounts {
  /** Creates an account (no session). CONFLICT when the username or email is taken, case-insensitively. */
  register(input: { username: string; email: string; password: string }, origin: Origin): Promise<User>;
  /**
   * Checks the credentials and starts a session; with SINGLE_SESSION, ends the user's older ones. A user with a
   * second factor gets SECOND_FACTOR_REQUIRED and a challenge instead (src/auth/second-factor.ts).
   */
  login(input: { login: string; password: string; deviceToken?: string | null }, origin: Origin): Promise<IssuedSession>;
  // ---- Second factor (src/auth/second-factor.ts) ----
  /** The second step of a login: the challenge `login` refused with, and a code or recovery code; starts the session. */
  loginWithSecondFactor(input: SecondStepInput, origin: Origin): Promise<IssuedSession>;
  /** An admin's enrolment at sign-in (ADMIN_REQUIRE_2FA): confirms with the enrolment challenge and a first code, then starts the session. */
  confirmSecondFactorAtLogin(input: SecondStepInput, origin: Origin): Promise<IssuedSession & { recoveryCodes: string[] }>;
  // ---- end second factor ----
  /** Rotates a refresh token; a token presented twice ends its whole session. */
  refresh(refreshToken: string | null | undefined, origin: Origin): Promise<IssuedSession>;
  /** Ends the viewer's session. */
  logout(viewer: Viewer, origin: Origin): Promise<void>;
  /** Deletes the viewer's own account after checking its password; ends all its sessions. */
  deleteAccount(viewer: Viewer, password: string, origin: Origin): Promise<void>;
  /** Admins: deletes a user and ends all its sessions. */
  deleteUser(admin: Viewer, userId: string, origin: Origin): Promise<void>;
  /** Admins: replaces a user's roles; a change ends the user's sessions (roles_changed). */
  setRoles(admin: Viewer, userId: string, roles: string[], origin: Origin): Promise<User>;
  /** Admins: ends every session of a user; returns how many ended. */
  revokeSessions(admin: Viewer, userId: string, origin: Origin): Promise<number>;
  /**
   * Ends the user's live sessions with `reason`, cluster-wide: all of them,
   * only `sessionId`, or all but `exceptSessionId`. Returns the ids ended.
   */
  endSessions(userId: string, reason: SessionEndReason, options?: EndSessionsOptions): Promise<string[]>;
  /** Re-records the sessions ended within the last access-token lifetime (at start; see `Revocations.restore`). */
  restoreRevocations(): Promise<void>;
  /** Creates or updates the ADMIN_USER account with ADMIN_PASS and role `admin`; a no-op when already so. */
  bootstrapAdmin(): Promise<void>;
  /**
   * Starts a session for the user `identify` proves (an OpenID Connect provider: src/auth/oidc.ts), as `login` does
   * after the password: the DPoP rule first (`sessionKey`: under DPOP_REQUIRED, `origin.jkt` must be set, else
   * `identify` never runs), then SINGLE_SESSION ends the older sessions and the event is audited with the session id.
   */
  startSession(origin: Origin, identify: () => Promise<ProvenIdentity>): Promise<IssuedSession>;
}

/** What a sign-in's proof step (password, second factor, provider) hands to `startSession`. */
export interface ProvenIdentity {
  user: User;
  event: SessionStartEvent;
  /** The client's device token after a password or second step (src/auth/devices.ts). @default null */
  device?: IssuedSession['device'];
}

/** The audit event of a started session: its kind (`login`, `oidc_login`, ...) and facts beside the session id. */
export interface SessionStartEvent {
  kind: AuditKind;
  detail?: Record<string, string | number | boolean | null>;
}

/** What completes a login's second step. */
export interface SecondStepInput {
  challenge: string;
  code: string;
  /** The client's device token (argument or cookie), kept when it is the one the login presented. @default none */
  deviceToken?: string | null;
}

export interface EndSessionsOptions {
  /** End only this session. @default every live session of the user */
  sessionId?: string;
  /** End every session but this one. @default none spared */
  exceptSessionId?: string;
  /** End only sessions started before this instant (so two logins at once cannot end each other). @default no bound */
  startedBefore?: Date;
}

/** What the accounts service is built on (the App's parts). */
export interface AccountsDeps {
  /** BCRYPT_COST, token lifetimes, SINGLE_SESSION, failed-login limits, ADMIN_USER / ADMIN_PASS. */
  config: Config;
  db: Database;
  logger: Logger;
  /** Backs the failed-login limiters (Redis when REDIS_URL is set). */
  state: SharedState;
  tokens: TokenSigner;
  /** Sees every audit event, to flag sign-in anomalies (src/auth/anomalies.ts). */
  anomalies: AnomalyWatch;
  /** Issues and checks the device tokens that exempt a known client from others' failures. */
  devices: DeviceTokens;
  /** Every ended session goes through it, so that it ends on every instance. */
  revocations: Revocations;
  /** A deleted user leaves its rooms through it (their counts and subscribers): src/rooms/service.ts. */
  rooms: RoomsOfDeletedUser;
  /** Asks for the second step after a right password, and checks it. */
  secondFactor: SecondFactor;
}

/** What deleting a user needs of the rooms (src/rooms/service.ts gives it): to leave them in the transaction that deletes its rows. */
export interface RoomsOfDeletedUser {
  deleteUser(userId: string, deleteRows: (tx: Prisma.TransactionClient) => Promise<unknown>): Promise<void>;
}

/** The role that may use the admin operations. */
export const ADMIN_ROLE = 'admin';

// Names, passwords and logins keep the text rule (src/core/text.ts) like every user-supplied string.
export const usernameRule = textSchema({ what: 'Username', min: 3, max: 32, kind: 'name' }).pipe(
  z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'Username may contain only letters, digits, "_", "." and "-".'),
);
const emailRule = z
  .string()
  .trim()
  .max(254, 'Email must be at most 254 characters.')
  .pipe(z.email('Email must be a valid address.'));
const passwordRule = textSchema({ what: 'Password', min: 8, max: 128, kind: 'text' });

const registerInput = z.object({ username: usernameRule, email: emailRule, password: passwordRule });
const loginInput = z.object({
  login: textSchema({ what: 'Username or email', min: 1, max: 254, kind: 'name' }),
  password: textSchema({ what: 'Password', min: 1, max: 128, kind: 'text' }),
  // Not ours or not valid: the client simply counts as a new one.
  deviceToken: z.string().nullish(),
});
const rolesInput = z
  .array(z.string().regex(/^[a-zA-Z0-9_.-]{1,32}$/, 'Each role must be 1 to 32 letters, digits, "_", "." or "-".'))
  .max(20, 'At most 20 roles.');
const uuid = z.uuid();

/** Parses `value` with `schema`, or throws BAD_USER_INPUT naming the first bad field. */
function parse<T>(schema: z.ZodType<T>, value: unknown, field?: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw badInput(field ?? (String(issue.path[0] ?? 'input')), issue.message);
}

export const keyOf = (value: string) => value.trim().toLowerCase();
const invalidCredentials = () => unauthenticated('Invalid username, email or password.');

/** Builds the accounts service (one per process, as `app.accounts`). */
export function createAccounts(deps: AccountsDeps): Accounts {
  const { config, db, logger, tokens, devices, revocations, rooms, secondFactor } = deps;
  const passwords = createPasswordHasher(config.BCRYPT_COST, config.PASSWORD_QUEUE_MAX_WAIT);
  const loginLimits = createLoginLimits(deps.state, config);
  const registrations = createRateLimiter(deps.state, { name: 'register-ip', points: config.REGISTER_PER_IP, windowSeconds: config.REGISTER_WINDOW });
  const audit = (event: AuditInput) => recordAudit({ db, logger, anomalies: deps.anomalies }, event);
  const refreshTtlMs = config.REFRESH_TOKEN_TTL * 1000;

  /** Sessions whose access tokens may still be alive. */
  const liveSessionFilter = () => ({ revokedAt: null, expiresAt: { gt: new Date(Date.now() - config.ACCESS_TOKEN_TTL * 1000) } });

  async function endSessions(userId: string, reason: SessionEndReason, options: EndSessionsOptions = {}): Promise<string[]> {
    const id = options.sessionId ?? (options.exceptSessionId ? { not: options.exceptSessionId } : undefined);
    const where = { userId, ...liveSessionFilter(), ...(id ? { id } : {}), ...(options.startedBefore ? { createdAt: { lt: options.startedBefore } } : {}) };
    const ids = (await db.session.findMany({ where, select: { id: true } })).map((s) => s.id);
    if (ids.length === 0) return [];
    await db.session.updateMany({ where: { id: { in: ids }, revokedAt: null }, data: { revokedAt: new Date(), revokedReason: reason } });
    await revocations.revoke(ids.map((sessionId) => ({ sessionId, userId, reason })));
    return ids;
  }

  async function issue(user: User, sessionId: string, refreshToken: string, refreshTokenExpiresAt: Date, device: IssuedSession['device'] = null, jkt: string | null = null): Promise<IssuedSession> {
    const signed = await tokens.sign({ userId: user.id, sessionId, roles: user.roles, jkt });
    return {
      device,
      user,
      accessToken: signed.token,
      accessTokenExpiresAt: signed.expiresAt,
      refreshToken,
      refreshTokenExpiresAt,
      viewer: { userId: user.id, sessionId, roles: user.roles, expiresAt: Math.floor(signed.expiresAt.getTime() / 1000), ...(jkt ? { jkt } : {}) },
    };
  }

  // ---- Every sign-in goes through here: a password login, its second step, or a provider's sign-in (src/auth/oidc.ts) ----
  async function startSession(origin: Origin, identify: () => Promise<ProvenIdentity>): Promise<IssuedSession> {
    // DPoP before the proof step: a sign-in refused for want of a proof has spent no budget point, password check or
    // code, so the client retries with one and loses nothing.
    const jkt = sessionKey(config, origin.jkt);
    const { user, event, device = null } = await identify();
    const refreshToken = newRefreshToken();
    const refreshTokenExpiresAt = new Date(Date.now() + refreshTtlMs);
    const session = await db.session.create({
      data: {
        userId: user.id,
        expiresAt: refreshTokenExpiresAt,
        ip: origin.ip,
        userAgent: origin.userAgent?.slice(0, 256) ?? null,
        // DPoP: a proof with the sign-in binds the session (and its tokens) to that key.
        dpopJkt: jkt,
        refreshTokens: { create: { tokenHash: hashRefreshToken(refreshToken), expiresAt: refreshTokenExpiresAt } },
      },
      select: { id: true, createdAt: true },
    });
    if (config.SINGLE_SESSION) {
      const replaced = await endSessions(user.id, 'session_replaced', { exceptSessionId: session.id, startedBefore: session.createdAt });
      if (replaced.length > 0) await audit({ kind: 'session_replaced', userId: user.id, ...cameFrom(origin), detail: { sessions: replaced, by: session.id } });
    }
    await audit({ kind: event.kind, userId: user.id, ...cameFrom(origin), detail: { session: session.id, ...event.detail } });
    return issue(user, session.id, refreshToken, refreshTokenExpiresAt, device, jkt);
  }
  // ---- end of session start ----

  function requireAdmin(viewer: Viewer): void {
    if (!viewer.roles.includes(ADMIN_ROLE)) throw forbidden('Only admins may do that.');
  }

  async function existingUser(userId: string, field: string): Promise<User> {
    const id = parse(uuid, userId, field);
    const user = await db.user.findUnique({ where: { id } });
    if (!user) throw notFound('User');
    return user;
  }

  /** Takes an attempt from the failed-login budgets before a password is checked; a refusal is audited and thrown. */
  async function takeAttempt(attempt: LoginAttempt, origin: Origin, userId: string | null): Promise<TakenAttempt> {
    try {
      return await loginLimits.take(attempt);
    } catch (error) {
      if (hasCode(error, ErrorCode.RATE_LIMITED)) {
        const retryAfter = Number((error as GraphQLError).extensions.retryAfter);
        await audit({ kind: 'rate_limited', userId, ...cameFrom(origin), detail: { rule: attempt.deviceId ? 'login-device' : 'login', retryAfter } });
      }
      throw error;
    }
  }

  /** The client's device token after a sign-in: a known device keeps its token (and so its budget); a new one gets its own. */
  const deviceFor = async (user: User, deviceId: string | null, deviceToken: string | null | undefined): Promise<IssuedSession['device']> =>
    deviceId ? { token: deviceToken!, expiresAt: new Date(Date.now() + config.DEVICE_TOKEN_TTL * 1000) } : devices.issue(user.id);

  /** The device id of the login's device token, when the second step presents that same token. */
  const sameDevice = async (deviceId: string | null, deviceToken: string | null | undefined, userId: string): Promise<string | null> =>
    deviceId !== null && (await devices.deviceOf(deviceToken, userId)) === deviceId ? deviceId : null;

  const accounts: Accounts = {
    endSessions,

    async restoreRevocations() {
      const since = new Date(Date.now() - (config.ACCESS_TOKEN_TTL + 5) * 1000);
      const ended = await db.session.findMany({ where: { revokedAt: { gte: since } }, select: { id: true, revokedAt: true, revokedReason: true } });
      await revocations.restore(ended.map((s) => ({ sessionId: s.id, endedAt: s.revokedAt!, reason: s.revokedReason })));
    },

    async register(input, origin) {
      const { username, email, password } = parse(registerInput, input);
      await consumeOrThrow({ limiter: registrations, key: origin.ip ?? 'unknown', message: 'Too many accounts registered from this address; try again later.' });
      const usernameKey = keyOf(username);
      const emailKey = keyOf(email);
      const taken = await db.user.findFirst({ where: { OR: [{ usernameKey }, { emailKey }] }, select: { usernameKey: true } });
      // Hashed either way, so that a taken name answers as slowly as a new one; the per-IP limit bounds how many names one can try.
      const passwordHash = await passwords.hash(password, 'low');
      if (taken) throw taken.usernameKey === usernameKey ? conflict('username', 'That username is taken.') : conflict('email', 'That email is already registered.');
      let user: User;
      try {
        user = await db.user.create({ data: { username, usernameKey, email, emailKey, passwordHash } });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const again = await db.user.findFirst({ where: { usernameKey }, select: { id: true } });
        throw again ? conflict('username', 'That username is taken.') : conflict('email', 'That email is already registered.');
      }
      await audit({ kind: 'register', userId: user.id, ...cameFrom(origin), detail: { username } });
      return user;
    },

    async login(input, origin) {
      const { login, password, deviceToken } = parse(loginInput, input);
      return startSession(origin, async () => {
        const key = keyOf(login);
        const user = await db.user.findUnique({ where: key.includes('@') ? { emailKey: key } : { usernameKey: key } });
        // Keyed by the account when it exists, else by the name tried: both count alike, so neither tells.
        const accountKey = user ? user.id : `name:${key}`;
        const deviceId = user ? await devices.deviceOf(deviceToken, user.id) : null;
        const attempt = await takeAttempt({ accountKey, ip: origin.ip ?? 'unknown', deviceId }, origin, user?.id ?? null);

        const valid = user ? await passwords.verify(password, user.passwordHash) : await passwords.verifyNothing(password);
        if (!user || !valid) {
          await audit({ kind: 'login_failed', userId: user?.id ?? null, ...cameFrom(origin), detail: { login: login.slice(0, 64), knownDevice: deviceId !== null } });
          throw invalidCredentials();
        }
        // Second factor: an enrolled user (or an admin who must enrol) gets a challenge, not a session; the point taken stays taken.
        await secondFactor.demand(user, deviceId, origin);
        await attempt.succeeded();
        return { user, event: { kind: 'login', detail: { knownDevice: deviceId !== null } }, device: await deviceFor(user, deviceId, deviceToken) };
      });
    },

    startSession,

    // ---- Second factor (src/auth/second-factor.ts) ----
    loginWithSecondFactor: (input, origin) =>
      startSession(origin, async () => {
        const { user, deviceId, method } = await secondFactor.pass(input.challenge, input.code, origin);
        const known = await sameDevice(deviceId, input.deviceToken, user.id);
        return { user, event: { kind: 'login', detail: { knownDevice: known !== null, secondFactor: method } }, device: await deviceFor(user, known, input.deviceToken) };
      }),

    async confirmSecondFactorAtLogin(input, origin) {
      let recoveryCodes: string[] = [];
      const session = await startSession(origin, async () => {
        const confirmed = await secondFactor.confirm({ challenge: input.challenge }, input.code, origin);
        recoveryCodes = confirmed.recoveryCodes;
        const known = await sameDevice(confirmed.deviceId, input.deviceToken, confirmed.user.id);
        return { user: confirmed.user, event: { kind: 'login', detail: { knownDevice: known !== null, secondFactor: 'totp' } }, device: await deviceFor(confirmed.user, known, input.deviceToken) };
      });
      return { ...session, recoveryCodes };
    },
    // ---- end second factor ----

    async refresh(presented, origin) {
      if (!presented) throw unauthenticated('No refresh token: pass refreshToken or send the refresh cookie.');
      if (presented.length > 512) throw invalidRefresh();
      const now = new Date();
      const found = await db.refreshToken.findUnique({
        where: { tokenHash: hashRefreshToken(presented) },
        include: { session: { include: { user: true } } },
      });
      if (!found) throw invalidRefresh();
      const { session } = found;
      // DPoP before anything else: a thief holding a bound session's refresh token cannot even spend it (nor end the
      // session by reusing it). An unbound session refreshed with a proof is bound from now on.
      const jkt = sessionKey(config, origin.jkt, session.dpopJkt);
      const reuse = async () => {
        const ended = await endSessions(session.userId, 'refresh_reuse', { sessionId: session.id });
        await audit({ kind: 'refresh_reuse', userId: session.userId, ...cameFrom(origin), detail: { session: session.id, ended: ended.length > 0 } });
        return unauthenticated('This refresh token was already used; its session has been ended. Sign in again.');
      };
      if (found.usedAt) throw await reuse();
      if (session.revokedAt || found.expiresAt <= now || session.expiresAt <= now) throw invalidRefresh();

      const refreshToken = newRefreshToken();
      const refreshTokenExpiresAt = new Date(now.getTime() + refreshTtlMs);
      const rotated = await inTransaction(db, async (tx) => {
        const claimed = await tx.refreshToken.updateMany({ where: { id: found.id, usedAt: null, session: { revokedAt: null } }, data: { usedAt: now } });
        if (claimed.count === 0) return false;
        await tx.refreshToken.create({
          data: { sessionId: session.id, tokenHash: hashRefreshToken(refreshToken), parentId: found.id, expiresAt: refreshTokenExpiresAt },
        });
        await tx.session.update({ where: { id: session.id }, data: { expiresAt: refreshTokenExpiresAt, ...(jkt && !session.dpopJkt ? { dpopJkt: jkt } : {}) } });
        return true;
      });
      if (!rotated) {
        // Another request claimed the same token first (a reuse too), or the session ended meanwhile.
        const current = await db.refreshToken.findUnique({ where: { id: found.id }, select: { usedAt: true } });
        throw current?.usedAt ? await reuse() : invalidRefresh();
      }
      await audit({ kind: 'refresh', userId: session.userId, ...cameFrom(origin), detail: { session: session.id } });
      return issue(session.user, session.id, refreshToken, refreshTokenExpiresAt, null, jkt);
    },

    async logout(viewer, origin) {
      await endSessions(viewer.userId, 'logout', { sessionId: viewer.sessionId });
      await audit({ kind: 'logout', userId: viewer.userId, ...cameFrom(origin), detail: { session: viewer.sessionId } });
    },

    async deleteAccount(viewer, password, origin) {
      const user = await db.user.findUnique({ where: { id: viewer.userId } });
      if (!user) throw unauthenticated('Your account no longer exists.');
      const attempt = await takeAttempt({ accountKey: user.id, ip: origin.ip ?? 'unknown', deviceId: null }, origin, user.id);
      if (password.length > 128 || !(await passwords.verify(password, user.passwordHash))) {
        await audit({ kind: 'login_failed', userId: user.id, ...cameFrom(origin), detail: { during: 'deleteAccount' } });
        throw badInput('password', 'The password is wrong.');
      }
      await attempt.succeeded();
      await deleteAndEnd(user, origin, 'self');
    },

    async deleteUser(admin, userId, origin) {
      requireAdmin(admin);
      const user = await existingUser(userId, 'id');
      await deleteAndEnd(user, origin, admin.userId);
    },

    async setRoles(admin, userId, roles, origin) {
      requireAdmin(admin);
      const wanted = [...new Set(parse(rolesInput, roles, 'roles'))].sort();
      const user = await existingUser(userId, 'userId');
      const current = [...user.roles].sort();
      if (wanted.length === current.length && wanted.every((r, i) => r === current[i])) return user;
      const updated = await db.user.update({ where: { id: user.id }, data: { roles: wanted } });
      const ended = await endSessions(user.id, 'roles_changed');
      await audit({ kind: 'roles_changed', userId: user.id, ...cameFrom(origin), detail: { from: current, to: wanted, by: admin.userId, sessionsEnded: ended.length } });
      return updated;
    },

    async revokeSessions(admin, userId, origin) {
      requireAdmin(admin);
      const user = await existingUser(userId, 'userId');
      const ended = await endSessions(user.id, 'revoked');
      await audit({ kind: 'revoked', userId: user.id, ...cameFrom(origin), detail: { sessions: ended, by: admin.userId } });
      return ended.length;
    },

    async bootstrapAdmin() {
      const { ADMIN_USER: username, ADMIN_PASS: password } = config;
      if (!username || !password) return;
      const checked = usernameRule.safeParse(username);
      if (!checked.success) throw new Error(`ADMIN_USER: ${checked.error.issues[0]!.message}`);
      if (password.length > 128) throw new Error('ADMIN_PASS: Password must be 8 to 128 characters.');
      const usernameKey = keyOf(username);
      for (let attempt = 0; attempt < 2; attempt++) {
        const existing = await db.user.findUnique({ where: { usernameKey } });
        if (existing) {
          const isAdminAlready = existing.roles.includes(ADMIN_ROLE);
          const passwordCurrent = await passwords.verify(password, existing.passwordHash);
          if (isAdminAlready && passwordCurrent) return;
          await db.user.update({
            where: { id: existing.id },
            data: {
              roles: isAdminAlready ? existing.roles : [...existing.roles, ADMIN_ROLE],
              ...(passwordCurrent ? {} : { passwordHash: await passwords.hash(password) }),
            },
          });
          await audit({ kind: 'admin_bootstrap', userId: existing.id, ip: null, detail: { created: false, roleAdded: !isAdminAlready, passwordChanged: !passwordCurrent } });
          return;
        }
        try {
          const email = `${usernameKey}@admin.localhost`;
          const created = await db.user.create({
            data: { username, usernameKey, email, emailKey: email, passwordHash: await passwords.hash(password), roles: [ADMIN_ROLE] },
          });
          await audit({ kind: 'admin_bootstrap', userId: created.id, ip: null, detail: { created: true } });
          logger.info({ username }, 'admin account created');
          return;
        } catch (error) {
          // Another instance created it at the same moment: take the update path.
          if (!isUniqueViolation(error)) throw error;
        }
      }
      throw new Error(`ADMIN_USER: could not create ${username}: its email ${usernameKey}@admin.localhost is taken by another account`);
    },
  };

  async function deleteAndEnd(user: User, origin: Origin, by: string): Promise<void> {
    const ended = await endSessions(user.id, 'user_deleted');
    await audit({ kind: 'user_deleted', userId: user.id, ...cameFrom(origin), detail: { userId: user.id, username: user.username, by, sessionsEnded: ended.length } });
    await rooms.deleteUser(user.id, (tx) => tx.user.deleteMany({ where: { id: user.id } }));
  }

  return accounts;
}

/**
 * DPoP, the one rule every sign-in (`startSession`) and refresh goes through: the key a session's tokens are bound
 * to. A bound session (`boundTo`) needs a proof of that key; otherwise the proof's key (`presented`) binds it; no key
 * at all is refused under DPOP_REQUIRED, so that such a server never issues a token a thief could use (RFC 9449).
 */
export function sessionKey(config: Pick<Config, 'DPOP_REQUIRED'>, presented: string | null | undefined, boundTo: string | null = null): string | null {
  if (boundTo && presented !== boundTo) {
    throw presented
      ? dpopError(DpopReason.invalidProof, 'This session is bound to another DPoP key.')
      : dpopError(DpopReason.required, 'This session is bound to a key: send a DPoP proof of it with refresh.');
  }
  const jkt = boundTo ?? presented ?? null;
  if (!jkt && config.DPOP_REQUIRED) throw dpopError(DpopReason.required, 'This server requires DPoP: sign in and refresh with a DPoP proof.');
  return jkt;
}
const invalidRefresh = () => unauthenticated('The refresh token is invalid, expired or revoked. Sign in again.');
