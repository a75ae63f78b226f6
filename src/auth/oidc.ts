/**
 * Sign-in through an external OpenID Connect provider: the authorization
 * code flow with PKCE, state and nonce, done by openid-client (discovery,
 * the token request, the ID token's signature and claims). This module keeps
 * the rules; src/auth/oidc-routes.ts gives them their HTTP routes.
 *
 * A started sign-in (its state, nonce and PKCE verifier) is kept in shared
 * state under the hash of a random key that only the starting browser holds,
 * in an HttpOnly cookie: the callback takes it in one atomic step, so a
 * callback works once, only in that browser, and two racing callbacks cannot
 * both use it. The provider's issuer and subject name the person; the first
 * sign-in creates a user (or, with OIDC_LINK_BY_EMAIL, links the account
 * whose email the provider says is verified) and every sign-in starts the
 * usual session through `Accounts.startSession`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as OpenId from 'openid-client';
import { z } from 'zod';
import type { Config } from '../core/config.ts';
import { DpopReason, ErrorCode, Keys } from '../core/codes.ts';
import { hasCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { isUniqueViolation, type Database } from '../adapters/database.ts';
import type { AtomicScript, SharedState } from '../adapters/state.ts';
import { consumeOrThrow, createRateLimiter } from '../adapters/rate-limit.ts';
import type { User } from '../generated/prisma/client.ts';
import { keyOf, sessionKey, usernameRule, type Accounts, type IssuedSession, type Origin } from './accounts.ts';
import { recordAudit, type AuditInput } from './audit.ts';
import { createPasswordHasher } from './passwords.ts';

/** How long a started sign-in waits for its callback (seconds): the person may have to sign in at the provider first. */
export const SIGN_IN_TTL = 600;
/** Longest wait for the provider's answers (seconds). */
const PROVIDER_TIMEOUT = 10;

/** Why a sign-in through the provider failed: the web page shows each (src/web/page/app.ts); the audit log records it. */
export const oidcFailures = [
  /** No started sign-in for this browser: none, expired, already used, or started in another browser. */
  'no_sign_in',
  /** The callback's state is not the one this sign-in sent. */
  'state_mismatch',
  /** The ID token's nonce is not the one this sign-in sent. */
  'nonce_mismatch',
  /** The provider refused the authorization code (expired, used, or not issued for this sign-in). */
  'code_rejected',
  /** The provider answered the authorization request with an error (the person declined, say). */
  'provider_refused',
  /** The provider could not be reached or answered something unusable. */
  'provider_error',
  /** The provider's verified email belongs to an account here, and OIDC_LINK_BY_EMAIL is off. */
  'email_taken',
  /** The account with that email is already linked to another identity at this provider. */
  'already_linked',
  /** Too many sign-ins started from this address. */
  'rate_limited',
  /** DPOP_REQUIRED is on and the sign-in was started without the client's key thumbprint (`dpop_jkt`). */
  'dpop_required',
] as const;
export type OidcFailure = (typeof oidcFailures)[number];

/** A failed sign-in; its message is safe to show. */
export class OidcError extends Error {
  override name = 'OidcError';
  constructor(
    readonly reason: OidcFailure,
    message: string,
    /** Seconds to wait, for `rate_limited`. */
    readonly retryAfter?: number,
    /** The account it is about, when there is one (the audit event's user). */
    readonly userId: string | null = null,
  ) {
    super(message);
  }
}

/** A finished sign-in. */
export interface OidcResult {
  session: IssuedSession;
  /** A user was created by this sign-in. */
  created: boolean;
  /** An existing account was linked by this sign-in (OIDC_LINK_BY_EMAIL). */
  linked: boolean;
}

export interface OidcSignIn {
  /** The name the sign-in button shows: OIDC_PROVIDER_NAME, else the issuer's host name. */
  readonly providerName: string;
  /**
   * Starts a sign-in that returns to `redirectUri`: the provider URL to send the browser to, and the key the
   * browser must bring back (its cookie). `origin.jkt` (the start's `dpop_jkt`) is the DPoP key the session will be
   * bound to. OidcError `dpop_required` without one under DPOP_REQUIRED, `rate_limited` past OIDC_STARTS_PER_IP,
   * `provider_error` when the provider's discovery document cannot be read.
   */
  begin(redirectUri: string, origin: Origin): Promise<{ authorizationUrl: URL; browserKey: string }>;
  /** Finishes the sign-in the browser's key names with the provider's answer (the callback's query). Throws OidcError. */
  complete(browserKey: string | null, callbackParams: URLSearchParams, origin: Origin): Promise<OidcResult>;
}

export interface OidcDeps {
  config: Config;
  /** From `loadClientSecret`, read before anything opens (a bad file stops the start with nothing to close). */
  clientSecret: string | undefined;
  db: Database;
  logger: Logger;
  state: SharedState;
  accounts: Accounts;
}

/** What a started sign-in keeps until its callback; `jkt`: the DPoP key its session is bound to (absent in sign-ins started before this field existed). */
const startedSchema = z.object({ state: z.string(), nonce: z.string(), verifier: z.string(), redirectUri: z.url(), jkt: z.string().nullish() });
type Started = z.infer<typeof startedSchema>;

/** GET and DEL in one step: a started sign-in is used once, whatever races. */
export const takeOnce: AtomicScript<string | null> = {
  lua: "local v = redis.call('GET', KEYS[1]) if v then redis.call('DEL', KEYS[1]) end return v",
  local(store, [key]) {
    const value = store.get(key!);
    if (value !== null) store.del(key!);
    return value;
  },
};

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');
const emailShape = z.email();

/** The claims a sign-in uses, from the ID token and, for what it lacks, the UserInfo endpoint. */
interface Profile {
  sub: string;
  email?: unknown;
  email_verified?: unknown;
  preferred_username?: unknown;
  nickname?: unknown;
  name?: unknown;
}

/**
 * A username from the provider's claims: preferred_username, else the email's
 * local part, else the name, reduced to the characters usernames allow and cut to
 * leave room for a suffix; `user` when nothing usable is left.
 */
export function usernameBase(profile: Omit<Profile, 'sub'>): string {
  const pick = [profile.preferred_username, typeof profile.email === 'string' ? profile.email.split('@')[0] : undefined, profile.nickname, profile.name].find(
    (v): v is string => typeof v === 'string' && v.trim() !== '',
  );
  const reduced = (pick ?? '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-zA-Z0-9_.-]+/g, '_')
    .replace(/^[_.-]+|[_.-]+$/g, '')
    .slice(0, 26);
  return reduced.length >= 3 ? reduced : `user${reduced}`;
}

/** The `attempt`th username to try: the base, then the base with a random suffix; each passes the username rule. */
export function usernameCandidate(base: string, attempt: number): string {
  const candidate = attempt === 0 ? base : `${base.slice(0, 26)}-${randomHex(2)}`;
  return usernameRule.safeParse(candidate).success ? candidate : `user-${randomHex(4)}`;
}

/** The reason an openid-client error stands for. */
function failureOf(client: typeof OpenId, error: unknown): OidcFailure {
  if (error instanceof client.AuthorizationResponseError) return 'provider_refused';
  if (error instanceof client.ResponseBodyError) return error.error === 'invalid_grant' ? 'code_rejected' : 'provider_error';
  if (error instanceof client.ClientError) {
    const cause = error.cause as { message?: string; cause?: { claim?: string } } | undefined;
    if (error.code === 'OAUTH_INVALID_RESPONSE' && /"state"/.test(cause?.message ?? '')) return 'state_mismatch';
    if (error.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && cause?.cause?.claim === 'nonce') return 'nonce_mismatch';
  }
  return 'provider_error';
}

const messages: Record<OidcFailure, string> = {
  no_sign_in: 'This sign-in expired, was already used, or was started in another browser. Start again.',
  state_mismatch: 'The provider sent back a different sign-in than this one. Start again.',
  nonce_mismatch: 'The provider’s token does not belong to this sign-in. Start again.',
  code_rejected: 'The provider refused the sign-in code (expired or already used). Start again.',
  provider_refused: 'The provider did not sign you in.',
  provider_error: 'The identity provider could not be reached or gave an unusable answer. Try again later.',
  email_taken: 'An account with this email already exists here. Sign in with its password.',
  already_linked: 'The account with this email is already linked to another identity at this provider.',
  rate_limited: 'Too many sign-ins started from this address; try again later.',
  dpop_required: 'This server requires DPoP: start the sign-in with the thumbprint of the client’s key (dpop_jkt).',
};

const fail = (reason: OidcFailure, retryAfter?: number, userId: string | null = null) => new OidcError(reason, messages[reason], retryAfter, userId);

/** Runs `work`, turning the DPoP rule's refusal (src/auth/accounts.ts `sessionKey`) into the `dpop_required` failure the page shows. */
async function dpopChecked<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw (error as { extensions?: { reason?: unknown } } | null)?.extensions?.reason === DpopReason.required ? fail('dpop_required') : error;
  }
}

/**
 * Builds the sign-in service, or null when OIDC_ISSUER is unset. The
 * provider's discovery document is read on the first sign-in (and again
 * after a failed read), so that a provider down at start does not stop the server.
 */
export async function createOidcSignIn(deps: OidcDeps): Promise<OidcSignIn | null> {
  const { config, db, logger, state, accounts, clientSecret: secret } = deps;
  if (!config.OIDC_ISSUER || !config.OIDC_CLIENT_ID) return null;
  // Loaded only when sign-in is configured: every start without it is spared loading the library.
  const client = await import('openid-client');
  const issuerUrl = new URL(config.OIDC_ISSUER);
  const clientId = config.OIDC_CLIENT_ID;
  // OIDC_STARTS_PER_IP per SIGN_IN_TTL: at most that many started sign-ins of one address are kept at a time.
  const starts = createRateLimiter(state, { name: 'oidc-start-ip', points: config.OIDC_STARTS_PER_IP, windowSeconds: SIGN_IN_TTL });
  const audit = (event: AuditInput) => recordAudit({ db, logger }, event);
  // Users created here get the hash of a password no one knows (so password login fails like any wrong password).
  let passwords: ReturnType<typeof createPasswordHasher> | undefined;
  const unusablePasswordHash = () => (passwords ??= createPasswordHasher(config.BCRYPT_COST, config.PASSWORD_QUEUE_MAX_WAIT)).hash(randomHex(32), 'low');

  let discovered: Promise<OpenId.Configuration> | undefined;
  function configuration(): Promise<OpenId.Configuration> {
    discovered ??= client
      .discovery(issuerUrl, clientId, undefined, secret ? client.ClientSecretBasic(secret) : client.None(), {
        // http is allowed by the configuration only on a loopback host (src/core/config.ts).
        execute: issuerUrl.protocol === 'http:' ? [client.allowInsecureRequests] : [],
        timeout: PROVIDER_TIMEOUT,
      })
      .catch((error: unknown) => {
        discovered = undefined;
        logger.warn({ err: String(error), issuer: config.OIDC_ISSUER }, 'oidc: could not read the provider discovery document');
        throw fail('provider_error');
      });
    return discovered;
  }

  /** The provider's claims: the ID token's, completed from UserInfo when it lacks the email. */
  async function profileOf(settings: OpenId.Configuration, tokens: OpenId.TokenEndpointResponse & OpenId.TokenEndpointResponseHelpers): Promise<Profile> {
    const claims = tokens.claims();
    if (!claims) throw fail('provider_error');
    if (claims.email !== undefined || !settings.serverMetadata().userinfo_endpoint) return claims;
    const info = await client.fetchUserInfo(settings, tokens.access_token, claims.sub);
    return { ...info, ...claims };
  }

  /** The user for the provider's person: found by identity, linked by verified email, or created. */
  async function userFor(issuer: string, profile: Profile, origin: Origin): Promise<{ user: User; created: boolean; linked: boolean }> {
    const subject = profile.sub;
    const rawEmail = typeof profile.email === 'string' ? profile.email.trim() : '';
    const email = rawEmail.length <= 254 && emailShape.safeParse(rawEmail).success ? rawEmail : null;
    // Some providers send the flag as a string.
    const verified = email !== null && (profile.email_verified === true || profile.email_verified === 'true');
    const where = { issuer_subject: { issuer, subject } };
    for (let attempt = 0; attempt < 6; attempt++) {
      const known = await db.externalIdentity.findUnique({ where, include: { user: true } });
      if (known) {
        await db.externalIdentity.update({ where: { id: known.id }, data: { lastSignInAt: new Date() } });
        return { user: known.user, created: false, linked: false };
      }
      const owner = verified ? await db.user.findUnique({ where: { emailKey: keyOf(email) } }) : null;
      if (owner) {
        if (!config.OIDC_LINK_BY_EMAIL) throw fail('email_taken', undefined, owner.id);
        try {
          await db.externalIdentity.create({ data: { issuer, subject, userId: owner.id, email, emailVerified: true } });
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          // The same person's other sign-in linked it first (read it again), or the account has another identity here.
          if (await db.externalIdentity.findUnique({ where })) continue;
          throw fail('already_linked', undefined, owner.id);
        }
        await audit({ kind: 'oidc_link', userId: owner.id, ip: origin.ip, detail: { issuer, by: 'verified email' } });
        return { user: owner, created: false, linked: true };
      }
      // An unverified (or missing) email is kept on the identity only: on the user it could claim someone else's address.
      const userEmail = verified ? email : `oidc-${sha256(`${issuer}\n${subject}`).slice(0, 24)}@users.invalid`;
      const base = usernameBase(profile);
      let username = usernameCandidate(base, attempt);
      if (await db.user.findUnique({ where: { usernameKey: keyOf(username) }, select: { id: true } })) username = usernameCandidate(base, attempt + 1);
      try {
        const user = await db.user.create({
          data: {
            username,
            usernameKey: keyOf(username),
            email: userEmail,
            emailKey: keyOf(userEmail),
            passwordHash: await unusablePasswordHash(),
            externalIdentities: { create: { issuer, subject, email, emailVerified: verified } },
          },
        });
        await audit({ kind: 'oidc_register', userId: user.id, ip: origin.ip, detail: { issuer, username, emailVerified: verified } });
        return { user, created: true, linked: false };
      } catch (error) {
        // A taken username, or a race with the same person's other sign-in or with a registration of that email: look again.
        if (!isUniqueViolation(error)) throw error;
      }
    }
    throw fail('provider_error');
  }

  return {
    providerName: config.OIDC_PROVIDER_NAME ?? issuerUrl.hostname,

    async begin(redirectUri, origin) {
      // DPoP first, so that a refused start spends no start of the budget and sends no one to the provider for nothing.
      const jkt = await dpopChecked(() => sessionKey(config, origin.jkt));
      try {
        await consumeOrThrow({ limiter: starts, key: origin.ip ?? 'unknown', message: messages.rate_limited });
      } catch (error) {
        if (!hasCode(error, ErrorCode.RATE_LIMITED)) throw error;
        const retryAfter = Number((error as { extensions?: { retryAfter?: number } }).extensions?.retryAfter ?? SIGN_IN_TTL);
        await audit({ kind: 'rate_limited', userId: null, ip: origin.ip, detail: { rule: 'oidc-start', retryAfter } });
        throw fail('rate_limited', retryAfter);
      }
      const settings = await configuration();
      const started: Started = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier(), redirectUri, jkt };
      const browserKey = randomBytes(32).toString('base64url');
      await state.set(Keys.oidcSignIn(sha256(browserKey)), JSON.stringify(started), SIGN_IN_TTL);
      const authorizationUrl = client.buildAuthorizationUrl(settings, {
        redirect_uri: redirectUri,
        scope: config.OIDC_SCOPES,
        code_challenge: await client.calculatePKCECodeChallenge(started.verifier),
        code_challenge_method: 'S256',
        state: started.state,
        nonce: started.nonce,
      });
      return { authorizationUrl, browserKey };
    },

    async complete(browserKey, callbackParams, origin) {
      const issuer = config.OIDC_ISSUER!;
      try {
        // The key is ours (43 characters) or a forgery: nothing longer is looked up.
        const raw = browserKey && browserKey.length <= 64 ? await state.run(takeOnce, [Keys.oidcSignIn(sha256(browserKey))], []) : null;
        if (!raw) {
          // A callback without a live sign-in spends a start: forged callbacks fill the audit log no faster than starts could.
          const wait = await starts.secondsUntilAllowed(origin.ip ?? 'unknown');
          if (wait > 0) throw fail('rate_limited', wait);
          await starts.count(origin.ip ?? 'unknown');
          throw fail('no_sign_in');
        }
        const started = startedSchema.parse(JSON.parse(raw));
        const settings = await configuration();
        // The provider checks the code against the redirect URI it was issued for: the one the sign-in started with.
        const currentUrl = new URL(started.redirectUri);
        for (const [name, value] of callbackParams) currentUrl.searchParams.append(name, value);
        let tokens: Awaited<ReturnType<typeof OpenId.authorizationCodeGrant>>;
        let profile: Profile;
        try {
          tokens = await client.authorizationCodeGrant(settings, currentUrl, {
            pkceCodeVerifier: started.verifier,
            expectedState: started.state,
            expectedNonce: started.nonce,
            idTokenExpected: true,
          });
          profile = await profileOf(settings, tokens);
        } catch (error) {
          if (error instanceof OidcError) throw error;
          const reason = failureOf(client, error);
          if (reason === 'provider_error') logger.warn({ err: String(error), issuer }, 'oidc: the provider answer was unusable');
          throw fail(reason);
        }
        // The session is bound to the key the start named (RFC 9449 section 10: the authorization code's binding): its
        // refresh token, the only token the callback hands out, is spent only with a proof of that key.
        let outcome = { created: false, linked: false };
        const session = await dpopChecked(() =>
          accounts.startSession({ ...origin, jkt: started.jkt ?? null }, async () => {
            const found = await userFor(settings.serverMetadata().issuer, profile, origin);
            outcome = found;
            return { user: found.user, event: { kind: 'oidc_login', detail: { issuer, created: found.created, linked: found.linked } } };
          }),
        );
        return { session, created: outcome.created, linked: outcome.linked };
      } catch (error) {
        // Past the budget, nothing is written (see above).
        if (error instanceof OidcError && error.reason !== 'rate_limited') await audit({ kind: 'oidc_failed', userId: error.userId, ip: origin.ip, detail: { issuer, reason: error.reason } });
        throw error;
      }
    },
  };
}
