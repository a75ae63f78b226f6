/**
 * The Switchboard client SDK: typed operations over fetch and one graphql-ws
 * socket, for Node and the browser. This file is its public entry: the
 * options, the events and the SwitchboardClient that joins its parts, one
 * file a role:
 *
 * - client/sign-in.ts: login, the second factor, device tokens;
 * - client/session.ts: the tokens, renewed before the access token expires
 *   (over the live socket when there is one, so the socket is renewed in place);
 * - client/socket.ts: the socket's life: connection_init with the token,
 *   reconnects with backoff and a fresh token after the server's 4003 or a
 *   network drop, and the stop on 4001, 4002, 4403 and 4029 (told through
 *   the `ended` event);
 * - client/live.ts: subscriptions resumed on every connection (roomMessages
 *   from the last cursor it delivered: no gap, no duplicate) and `liveRooms`;
 * - client/transport.ts: one operation over HTTP or over the socket;
 * - client/dpop.ts, client/devices.ts, client/errors.ts, client/documents.ts.
 *
 * Imports point one way (sdk.ts, live.ts, socket.ts, session.ts,
 * transport.ts); what a part needs from one above it (the socket from the
 * session's refresh, the session's token for connection_init) it gets as a
 * hook, passed in by the constructor here.
 *
 * DPoP (RFC 9449): it can bind its session to a key pair it holds (WebCrypto
 * ECDSA P-256, the private key not extractable), so that its tokens are
 * useless to anyone who copies them: with `dpop: true` always, by default
 * when the server asks for it (DPOP_REQUIRED). It then signs a proof for
 * every request (the DPoP header), for every connection (connection_init's
 * `dpop`) and for a refresh over the socket (the operation's
 * `extensions.dpop`).
 */
import { LogoutDocument, RegisterDocument, SendMessageDocument } from './documents.ts';
import type { AuthFieldsFragment, MessageFieldsFragment, RegisterInput, RoomFieldsFragment, TypedDocumentString } from './gql/graphql.ts';
import { memoryDeviceTokenStore, type DeviceTokenStore } from './devices.ts';
import { DpopKey } from './dpop.ts';
import { refusedForLoad, TransportError, type SecondFactorPrompt } from './errors.ts';
import { LiveOperations, type LiveRoomList, type RoomListHandlers, type RoomListOptions, type Subscription, type SubscriptionHandlers } from './live.ts';
import { endMessages, Session, toTokens, type SessionEnd, type Tokens } from './session.ts';
import { SignIn } from './sign-in.ts';
import { LiveSocket, type ConnectionStatus } from './socket.ts';
import { HttpTransport } from './transport.ts';

export { memoryDeviceTokenStore, type DeviceTokenStore } from './devices.ts';
export { GraphQLRequestError, secondFactorChallenge, TransportError, type SecondFactorChallenge, type SecondFactorPrompt } from './errors.ts';
export type { LiveRoomList, RoomListChange, RoomListHandlers, RoomListOptions, Subscription, SubscriptionHandlers } from './live.ts';
export type { EndReason, SessionEnd, Tokens } from './session.ts';
export type { ConnectionStatus } from './socket.ts';

export type { MessageFieldsFragment as Message, RoomFieldsFragment as Room };

export interface SwitchboardEvents {
  /** New tokens (after login or refresh) or null (signed out): store them to resume later. */
  tokens: Tokens | null;
  status: ConnectionStatus;
  ended: SessionEnd;
  /** Each successful connection_ack; `reconnected` is false for the first one. */
  connected: { reconnected: boolean };
}

export interface SwitchboardClientOptions {
  /** The GraphQL endpoint over HTTP, e.g. `http://127.0.0.1:4000/graphql`. */
  url: string;
  /** The graphql-ws endpoint. @default `url` with ws: or wss: */
  wsUrl?: string;
  /** A WebSocket class, for runtimes without a global one (Node 20: `ws`). @default globalThis.WebSocket */
  webSocketImpl?: unknown;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** A stored session to resume (see the `tokens` event). @default null */
  tokens?: Tokens | null;
  /**
   * Renew the access token this long before it expires (milliseconds), capped
   * at a quarter of its lifetime so short-lived tokens are renewed in time.
   * @default 60000
   */
  refreshBefore?: number;
  /** Renew tokens on a timer before they expire. Off, the server's 4003 triggers a reconnect with a fresh token instead. @default true */
  autoRefresh?: boolean;
  /** First reconnect delay (milliseconds); doubles per failed attempt, with jitter. @default 500 */
  retryDelay?: number;
  /** Longest reconnect delay (milliseconds). @default 15000 */
  maxRetryDelay?: number;
  /** Attempts of sendMessage when its answer is lost (same idempotency key each time). @default 4 */
  sendAttempts?: number;
  /**
   * Bind the session to a key pair (DPoP): `true` at every login; `'auto'`
   * only when the server refuses a login or refresh for want of a proof
   * (DPOP_REQUIRED), then retried once with one; `false` never.
   * @default 'auto'
   */
  dpop?: boolean | 'auto';
  /**
   * The key pair to bind with (ECDSA P-256, for ES256 proofs). Give one to
   * resume a bound session (`tokens`) after a restart: a browser can keep a
   * non-extractable CryptoKeyPair in IndexedDB. @default generated when first
   * needed, the private key not extractable, forgotten with the client
   */
  dpopKey?: CryptoKeyPair;
  /**
   * Where the device tokens that logins hand out are kept, by account: a
   * login that presents its device token is never locked out by others'
   * failed attempts on that account. Give a persistent store to keep them
   * across restarts. @default an in-memory store
   */
  devices?: DeviceTokenStore;
  /**
   * Asked for a code when `login` meets an account with a second factor; without it, `login` rejects with the
   * SECOND_FACTOR_REQUIRED error (see `secondFactorChallenge`) and `completeLogin(code)` finishes. @default none
   */
  secondFactor?: SecondFactorPrompt;
}

type Listener<T> = (value: T) => void;

/** A random idempotency key (getRandomValues also works on plain-http pages, unlike randomUUID). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SwitchboardClient {
  private readonly http: HttpTransport;
  private readonly session: Session;
  private readonly socket: LiveSocket;
  private readonly live: LiveOperations;
  private readonly signIn: SignIn;
  private readonly dpopKey: DpopKey;
  private readonly sending: { retryDelay: number; maxRetryDelay: number; sendAttempts: number };
  private currentStatus: ConnectionStatus = 'idle';
  private readonly listeners: { [K in keyof SwitchboardEvents]: Set<Listener<SwitchboardEvents[K]>> } = {
    tokens: new Set(),
    status: new Set(),
    ended: new Set(),
    connected: new Set(),
  };

  constructor(options: SwitchboardClientOptions) {
    const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const dpop = options.dpop ?? 'auto';
    this.sending = { retryDelay: options.retryDelay ?? 500, maxRetryDelay: options.maxRetryDelay ?? 15_000, sendAttempts: options.sendAttempts ?? 4 };
    this.dpopKey = new DpopKey(options.dpopKey);
    this.http = new HttpTransport(options.url, fetchImpl, this.dpopKey);
    this.socket = new LiveSocket(
      { wsUrl: options.wsUrl ?? options.url.replace(/^http/, 'ws'), webSocketImpl: options.webSocketImpl, retryDelay: this.sending.retryDelay, maxRetryDelay: this.sending.maxRetryDelay },
      this.http,
      {
        accessToken: () => this.session.accessToken(),
        signedIn: () => this.session.tokens !== null,
        status: (status) => this.setStatus(status),
        connected: (reconnected) => {
          this.emit('connected', { reconnected });
          this.live.resumeAll();
        },
        ended: (end, keepTokens) => this.end(end, keepTokens),
      },
    );
    this.session = new Session(
      this.http,
      { tokens: options.tokens ?? null, refreshBefore: options.refreshBefore ?? 60_000, autoRefresh: options.autoRefresh ?? true, dpop },
      {
        openSocket: () => this.socket.openSocket,
        tokens: (tokens) => this.emit('tokens', tokens),
        revoked: () => this.end({ reason: 'revoked', message: endMessages.revoked }),
      },
    );
    const request = this.request.bind(this);
    this.live = new LiveOperations(this.socket, request);
    this.signIn = new SignIn(this.http, request, { devices: options.devices ?? memoryDeviceTokenStore(), dpop, dpopKey: this.dpopKey, secondFactor: options.secondFactor }, (auth) => this.adopt(auth));
  }

  /** The current tokens (null when signed out). */
  get tokens(): Tokens | null {
    return this.session.tokens;
  }

  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** Listens to an event; returns the function that stops listening. */
  on<K extends keyof SwitchboardEvents>(event: K, listener: Listener<SwitchboardEvents[K]>): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  private emit<K extends keyof SwitchboardEvents>(event: K, value: SwitchboardEvents[K]): void {
    for (const listener of [...this.listeners[event]]) listener(value);
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.currentStatus === status) return;
    this.currentStatus = status;
    this.emit('status', status);
  }

  /**
   * Runs a query or mutation over HTTP with the current access token (renewed
   * first when it is about to expire). GraphQL errors throw GraphQLRequestError.
   */
  request<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables?: TVariables, options: { auth?: boolean } = {}): Promise<TResult> {
    return this.session.request(document, variables, options);
  }

  // ---- sign-in (client/sign-in.ts) ----

  /** Creates an account (it does not sign in). */
  async register(input: RegisterInput) {
    return (await this.request(RegisterDocument, { input }, { auth: false })).register;
  }

  /**
   * Signs in, keeps the tokens and opens the live connection. For an account with a second factor it asks
   * `prompt` (or the `secondFactor` option) for a code; with neither, it rejects with SECOND_FACTOR_REQUIRED
   * and `completeLogin(code)` finishes.
   */
  login(login: string, password: string, prompt?: SecondFactorPrompt) {
    return this.signIn.login(login, password, prompt);
  }

  /** Finishes the login that answered SECOND_FACTOR_REQUIRED with a code (or a recovery code). */
  completeLogin(code: string, challenge?: string) {
    return this.signIn.completeLogin(code, challenge);
  }

  /** Starts enrolling a second factor: signed in, or with an enrolment challenge (SECOND_FACTOR_ENROLMENT_REQUIRED). Show `uri` as a QR code. */
  enrolSecondFactor(challenge?: string) {
    return this.signIn.enrolSecondFactor(challenge);
  }

  /** Confirms the enrolment with a first code; returns the recovery codes. With an enrolment challenge it also signs in (`user`). */
  confirmSecondFactor(code: string, challenge?: string) {
    return this.signIn.confirmSecondFactor(code, challenge);
  }

  /** Removes the second factor; needs a current code or an unused recovery code. */
  disableSecondFactor(code: string): Promise<void> {
    return this.signIn.disableSecondFactor(code);
  }

  /**
   * The URL that starts a sign-in through the server's identity provider (`start`: the `/auth/providers`
   * entry's, resolved against `url`), bound to this client's DPoP key (`dpop_jkt`) unless `dpop` is false.
   * The browser leaves the page for the provider: keep `dpopKey()`'s pair (IndexedDB holds a
   * non-extractable one) and give it as the `dpopKey` option of the client that calls
   * `completeOidcSignIn()` when the browser is back.
   */
  oidcStartUrl(start = 'auth/oidc/start'): Promise<string> {
    return this.signIn.oidcStartUrl(start);
  }

  /**
   * Finishes a sign-in through the identity provider once the browser is back with `#oidc=signed-in`: the
   * refresh cookie the server set becomes this client's session, bound to its key (the one the start named).
   * Browsers only, on the server's origin (the cookie is HttpOnly and SameSite=Strict).
   */
  completeOidcSignIn() {
    return this.signIn.completeOidcSignIn();
  }

  /**
   * The key pair this client binds its session with (made now when it has none; the private key cannot be
   * exported) and its RFC 7638 thumbprint. Keep the pair to resume a bound session after a reload or the
   * navigation of an OIDC sign-in; a client forgets it when its session ends (logout, revoked, replaced), and
   * the next session gets a new one.
   */
  async currentDpopKey(): Promise<{ keyPair: CryptoKeyPair; thumbprint: string }> {
    return { keyPair: await this.dpopKey.keyPair(), thumbprint: await this.dpopKey.thumbprint() };
  }

  // ---- the session (client/session.ts) ----

  /** Ends the session on the server (every socket of it closes) and here. */
  async logout(): Promise<void> {
    const token = this.session.tokens?.accessToken ?? null;
    this.end({ reason: 'logout', message: endMessages.logout });
    if (token) await this.http.post(LogoutDocument, undefined, token).catch(() => undefined);
  }

  /** Closes the socket and timers, keeping the tokens (resume with `connect()`). */
  close(): void {
    this.teardown();
    this.live.stopAll();
    this.setStatus('idle');
  }

  /**
   * Rotates the refresh token. One refresh at a time: a refresh token works
   * once, and presenting it twice would end the session. Sent over the live
   * socket when it is open, so the server renews that socket in place.
   * A refused refresh ends the session with reason `revoked`.
   */
  refresh(): Promise<Tokens> {
    return this.session.refresh();
  }

  // ---- the live connection (client/socket.ts, client/live.ts) ----

  /** Opens the live connection (login does it); also tries again after the `limit` end. */
  connect(): void {
    this.socket.connect();
  }

  /**
   * A subscription that lives across reconnects (restarted with the same
   * variables on each new connection).
   */
  subscribe<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables, handlers: SubscriptionHandlers<TResult>): Subscription {
    return this.live.subscribe(document, variables, handlers);
  }

  /**
   * A room's messages, in order, exactly once each, across reconnects: each
   * resubscription asks for the messages after the last one delivered.
   * Without `after` it starts at the room's newest message, read before the
   * first subscription (`Room.messagesCursor`; the room's start while it is
   * empty), so nothing sent after this call is missed, not even during the
   * first connection or a drop before anything was delivered.
   */
  roomMessages(roomId: string, handlers: SubscriptionHandlers<MessageFieldsFragment>, options: { after?: string } = {}): Subscription {
    return this.live.roomMessages(roomId, handlers, options);
  }

  /**
   * The rooms the user may see, kept current: read with `rooms` whenever
   * roomListChanges says RESYNC (as every subscription starts, so at each
   * connect too, and after the server's outage), then changed by each change
   * it tells. Changes heard while a read is under way are applied again to
   * what it read, which may predate them.
   */
  liveRooms(handlers: RoomListHandlers, options: RoomListOptions = {}): LiveRoomList {
    return this.live.liveRooms(handlers, options);
  }

  /**
   * Sends a message. When the answer is lost (network error, 5xx), it sends
   * again with the same idempotency key: the server stores it once and
   * answers with the first message. A send the server refused for load
   * (RATE_LIMITED, `reason: "overloaded"`: nothing stored) is sent again
   * after its `retryAfter`, spread over up to twice that so that refused
   * senders do not all come back at once. Both count against `sendAttempts`.
   */
  async sendMessage(roomId: string, body: string, options: { idempotencyKey?: string } = {}) {
    const idempotencyKey = options.idempotencyKey ?? newIdempotencyKey();
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.request(SendMessageDocument, { roomId, body, idempotencyKey })).sendMessage;
      } catch (error) {
        const transient = error instanceof TransportError && (error.status === undefined || error.status >= 500);
        const overloaded = refusedForLoad(error);
        if ((!transient && overloaded === undefined) || attempt >= this.sending.sendAttempts) throw error;
        const delay = overloaded === undefined ? this.sending.retryDelay * 2 ** (attempt - 1) : overloaded * 1000 * (1 + Math.random());
        await sleep(Math.min(this.sending.maxRetryDelay, delay));
      }
    }
  }

  /** Keeps a new session's tokens and opens its live connection, on a fresh socket: its first connection is no reconnect. */
  private adopt(auth: AuthFieldsFragment) {
    this.session.stopRenewal();
    this.socket.restart();
    this.session.set(toTokens(auth));
    this.connect();
    return auth.user;
  }

  private teardown(): void {
    this.session.stopRenewal();
    this.socket.teardown();
  }

  /**
   * Stops: closes the socket, forgets the tokens (unless `keepTokens`, for a
   * refused seat) and reports why. Subscriptions are kept for a later
   * `connect()` only when the tokens are kept.
   */
  private end(end: SessionEnd, keepTokens = false): void {
    if (this.currentStatus === 'ended' && !this.session.tokens) return;
    this.teardown();
    if (!keepTokens) {
      this.live.stopAll();
      // Its key bound a session that is over; the next one gets a key of its own.
      this.dpopKey.forget();
      this.session.set(null);
    }
    this.setStatus('ended');
    this.emit('ended', end);
  }
}
