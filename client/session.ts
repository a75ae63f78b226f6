/**
 * The session's tokens: kept, renewed on a timer before the access token
 * expires, and refreshed one at a time. How a session starts is
 * client/sign-in.ts; how it ends is told as a SessionEnd.
 */
import type { Client } from 'graphql-ws';
import { RefreshDocument } from './documents.ts';
import type { AuthFieldsFragment, TypedDocumentString } from './gql/graphql.ts';
import { boundKeyOf, withDpopFallback, type DpopMode } from './dpop.ts';
import { GraphQLRequestError } from './errors.ts';
import { requestOverSocket, type HttpTransport } from './transport.ts';

/** The session's credentials, as `login` and `refresh` return them. */
export interface Tokens {
  accessToken: string;
  /** Milliseconds since the epoch. */
  accessTokenExpiresAt: number;
  refreshToken: string;
  /** Milliseconds since the epoch. */
  refreshTokenExpiresAt: number;
}

/** Why the SDK stopped: it does not reconnect after any of these. */
export type EndReason =
  /** This client called logout. */
  | 'logout'
  /** The session was ended elsewhere (logout, admin, refresh-token reuse, user deleted): close 4001, or the refresh was refused. */
  | 'revoked'
  /** A newer login replaced this session (close 4002). */
  | 'replaced'
  /** The server refused the token at connection time (close 4403). */
  | 'unauthorized'
  /** No free seat, or too many sockets for this user (close 4029): the session is still valid; `connect()` tries again. */
  | 'limit';

export interface SessionEnd {
  reason: EndReason;
  /** The WebSocket close code, when a close decided it. */
  code?: number;
  /** A sentence for people (the server's close reason when there is one). */
  message: string;
}

export const endMessages: Record<EndReason, string> = {
  logout: 'Signed out.',
  revoked: 'Your session was ended (signed out elsewhere or revoked).',
  replaced: 'You signed in somewhere else; this session was replaced.',
  unauthorized: 'The server refused the access token.',
  limit: 'No free seats: the server has reached its connection limit.',
};

export const toTokens = (auth: AuthFieldsFragment): Tokens => ({
  accessToken: auth.accessToken,
  accessTokenExpiresAt: Date.parse(auth.accessTokenExpiresAt),
  refreshToken: auth.refreshToken,
  refreshTokenExpiresAt: Date.parse(auth.refreshTokenExpiresAt),
});

const signInFirst = () => new GraphQLRequestError([{ message: 'Sign in first.', extensions: { code: 'UNAUTHENTICATED' } }]);

/** The longest delay a timer accepts, in browsers and Node alike. */
const maxTimerDelay = 2 ** 31 - 1;

export interface SessionOptions {
  tokens: Tokens | null;
  refreshBefore: number;
  autoRefresh: boolean;
  dpop: DpopMode;
}

export interface SessionHooks {
  /** The live socket when it is open: a refresh goes over it, so the server renews that socket in place. */
  openSocket(): Client | null;
  /** New tokens, or null (signed out). */
  tokens(tokens: Tokens | null): void;
  /** The server refused the refresh token: the session is over. */
  revoked(): void;
}

export class Session {
  private current: Tokens | null;
  private refreshing: Promise<Tokens> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly http: HttpTransport,
    private readonly options: SessionOptions,
    private readonly hooks: SessionHooks,
  ) {
    this.current = options.tokens;
    this.scheduleRefresh();
  }

  /** The current tokens (null when signed out). */
  get tokens(): Tokens | null {
    return this.current;
  }

  set(tokens: Tokens | null): void {
    this.current = tokens;
    this.scheduleRefresh();
    this.hooks.tokens(tokens);
  }

  /** Stops the renewal timer (the tokens are kept; `set` starts it again). */
  stopRenewal(): void {
    clearTimeout(this.refreshTimer);
  }

  /** Runs an operation over HTTP with the current access token (renewed first when it is about to expire), or without one. */
  async request<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables?: TVariables, options: { auth?: boolean } = {}): Promise<TResult> {
    const token = options.auth !== false && this.current ? await this.accessToken() : null;
    return this.http.post(document, variables, token);
  }

  /** An access token good for a while yet, refreshing first when it is (nearly) expired. */
  async accessToken(): Promise<string> {
    const tokens = this.current;
    if (!tokens) throw signInFirst();
    if (tokens.accessTokenExpiresAt - Date.now() > 1000) return tokens.accessToken;
    return (await this.refresh()).accessToken;
  }

  /**
   * Rotates the refresh token. One refresh at a time: a refresh token works
   * once, and presenting it twice would end the session. A refused refresh
   * ends the session (the `revoked` hook).
   */
  refresh(): Promise<Tokens> {
    this.refreshing ??= (async () => {
      const tokens = this.current;
      if (!tokens) throw signInFirst();
      try {
        const variables = { refreshToken: tokens.refreshToken };
        // A bound session's refresh token works only with a proof of its key; an unbound one is bound when the server asks.
        const bindFirst = boundKeyOf(tokens.accessToken) !== null || this.options.dpop === true;
        const data = await withDpopFallback(this.options.dpop, bindFirst, async (bind) => {
          const socket = this.hooks.openSocket();
          return socket
            ? requestOverSocket(socket, RefreshDocument, variables, bind ? { dpop: await this.http.proof('POST') } : undefined)
            : this.http.post(RefreshDocument, variables, null, bind);
        });
        const renewed = toTokens(data.refresh);
        this.set(renewed);
        return renewed;
      } catch (error) {
        const retriable = error instanceof GraphQLRequestError && (error.code === 'RATE_LIMITED' || error.code === 'INTERNAL_SERVER_ERROR');
        if (error instanceof GraphQLRequestError && !retriable) this.hooks.revoked();
        throw error;
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Time to renew before expiry: refreshBefore, at most a quarter of the token's remaining life when it arrived. */
  private renewalMargin(tokens: Tokens): number {
    const life = Math.max(0, tokens.accessTokenExpiresAt - Date.now());
    return Math.min(this.options.refreshBefore, life / 4);
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const tokens = this.current;
    if (!tokens || !this.options.autoRefresh) return;
    const due = tokens.accessTokenExpiresAt - this.renewalMargin(tokens) - Date.now();
    // A timer waits at most 2^31 - 1 ms (about 24.8 days) and fires at once past that: a renewal further off is scheduled again then.
    if (due > maxTimerDelay) {
      this.refreshTimer = setTimeout(() => this.scheduleRefresh(), maxTimerDelay);
      return;
    }
    this.refreshTimer = setTimeout(() => {
      this.refresh().catch(() => undefined);
    }, Math.max(0, due));
  }
}
