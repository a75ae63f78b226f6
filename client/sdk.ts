/**
 * The Switchboard client SDK: typed operations over fetch and one graphql-ws
 * socket, for Node and the browser.
 *
 * It keeps the session's tokens and renews the access token before it
 * expires (over the live socket when there is one, so the socket is renewed
 * in place); it reconnects with backoff and a fresh token after the server's
 * 4003 or a network drop, resuming every subscription (roomMessages from the
 * last cursor it delivered: no gap, no duplicate); it keeps a live list of
 * the rooms the user may see (`liveRooms`); it stops on 4001, 4002, 4403
 * and 4029 and says why through the `ended` event; and it retries
 * sendMessage with the same idempotency key when an answer is lost.
 *
 * DPoP (RFC 9449): it can bind its session to a key pair it holds (WebCrypto
 * ECDSA P-256, the private key not extractable), so that its tokens are
 * useless to anyone who copies them: with `dpop: true` always, by default
 * when the server asks for it (DPOP_REQUIRED). It then signs a proof for
 * every request (the DPoP header), for every connection (connection_init's
 * `dpop`) and for a refresh over the socket (the operation's
 * `extensions.dpop`).
 */
import { createClient, type Client } from 'graphql-ws';
import {
  ConfirmSecondFactorDocument,
  DisableSecondFactorDocument,
  EnrolSecondFactorDocument,
  LoginDocument,
  LoginWithSecondFactorDocument,
  LogoutDocument,
  RefreshDocument,
  RegisterDocument,
  RoomListChangesDocument,
  RoomMessagesCursorDocument,
  RoomMessagesDocument,
  RoomsDocument,
  SendMessageDocument,
} from './documents.ts';
import type {
  AuthFieldsFragment,
  MessageFieldsFragment,
  RegisterInput,
  RoomFieldsFragment,
  RoomListChangesSubscription,
  TypedDocumentString,
} from './gql/graphql.ts';
import { memoryDeviceTokenStore, type DeviceTokenStore } from './devices.ts';
import { boundKeyOf, DpopKey } from './dpop.ts';
import { GraphQLRequestError, secondFactorChallenge, TransportError, wantsDpop, type SecondFactorPrompt } from './errors.ts';

export { memoryDeviceTokenStore, type DeviceTokenStore } from './devices.ts';
export { GraphQLRequestError, secondFactorChallenge, TransportError, type SecondFactorChallenge, type SecondFactorPrompt } from './errors.ts';

export type { MessageFieldsFragment as Message, RoomFieldsFragment as Room };

/** One change of the room list, as roomListChanges tells it. */
export type RoomListChange = RoomListChangesSubscription['roomListChanges'];

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

/** Where the live connection is. */
export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'ended';

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

interface Variables {
  [name: string]: unknown;
}

/** One live subscription the SDK restarts on every new connection. */
interface LiveOperation {
  query: string;
  /** Read at each (re)subscription: roomMessages passes its latest cursor. */
  variables(): Variables;
  /** Runs before each (re)subscription (roomMessages anchors or catches up over HTTP). */
  prepare?(): Promise<void>;
  next(data: unknown): void;
  error(error: Error): void;
  complete(): void;
  /** Connection generation the current graphql-ws subscription belongs to. */
  generation: number;
  stop?: () => void;
}

/** What a subscription call gets back. */
export interface Subscription {
  unsubscribe(): void;
}

export interface SubscriptionHandlers<T> {
  next(data: T): void;
  /** The server refused or ended the subscription with errors; it is not restarted. */
  error?(error: Error): void;
  /** The server completed the subscription; it is not restarted. */
  complete?(): void;
}

export interface RoomListHandlers {
  /** The list as it is now, after each change (`change`) and each read of it (`change` null). A new array each time. */
  next(rooms: readonly RoomFieldsFragment[], change: RoomListChange | null): void;
  /** A read of the list failed; the next one (a reconnect, a RESYNC, `refresh()`) tries again. */
  readFailed?(error: Error): void;
  /** The server refused or ended the subscription; it is not restarted. */
  error?(error: Error): void;
}

export interface RoomListOptions {
  /** Rooms asked for per page of `rooms`. @default 100 */
  pageSize?: number;
  /** Pages read at most: the list holds the oldest `pageSize × maxPages` rooms of a read, and those added since. @default 100 */
  maxPages?: number;
}

/** What `liveRooms` gets back. */
export interface LiveRoomList extends Subscription {
  /** The list as `next` last had it. */
  readonly rooms: readonly RoomFieldsFragment[];
  /** Reads the list again now (a room's member count, say, which roomListChanges does not tell); rejects when the read fails. */
  refresh(): Promise<void>;
}

/** The list with one change applied: a room added goes last, as `rooms` pages the newest last. */
function applyRoomChange(rooms: readonly RoomFieldsFragment[], { kind, roomId, room }: RoomListChange): RoomFieldsFragment[] {
  if (kind === 'REMOVED' || !room) return rooms.filter((r) => r.id !== roomId);
  const at = rooms.findIndex((r) => r.id === room.id);
  return at === -1 ? [...rooms, room] : rooms.map((r, i) => (i === at ? room : r));
}

/** Close codes after which the SDK stops rather than reconnects. */
const terminalCloses: Record<number, EndReason> = { 4001: 'revoked', 4002: 'replaced', 4403: 'unauthorized', 4029: 'limit' };

const endMessages: Record<EndReason, string> = {
  logout: 'Signed out.',
  revoked: 'Your session was ended (signed out elsewhere or revoked).',
  replaced: 'You signed in somewhere else; this session was replaced.',
  unauthorized: 'The server refused the access token.',
  limit: 'No free seats: the server has reached its connection limit.',
};

const toTokens = (auth: AuthFieldsFragment): Tokens => ({
  accessToken: auth.accessToken,
  accessTokenExpiresAt: Date.parse(auth.accessTokenExpiresAt),
  refreshToken: auth.refreshToken,
  refreshTokenExpiresAt: Date.parse(auth.refreshTokenExpiresAt),
});

/** A random idempotency key (getRandomValues also works on plain-http pages, unlike randomUUID). */
export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The longest delay a timer accepts, in browsers and Node alike. */
const maxTimerDelay = 2 ** 31 - 1;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Disposes a graphql-ws client whose socket may have been refused (its dispose then rejects with the close). */
const dispose = (socket: Client) => void Promise.resolve(socket.dispose()).catch(() => undefined);

const isCloseLike = (value: unknown): value is { code: number; reason?: string } =>
  typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number';

export class SwitchboardClient {
  private readonly url: string;
  private readonly wsUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly options: Required<Pick<SwitchboardClientOptions, 'refreshBefore' | 'autoRefresh' | 'retryDelay' | 'maxRetryDelay' | 'sendAttempts'>> &
    Pick<SwitchboardClientOptions, 'webSocketImpl'>;
  private currentTokens: Tokens | null;
  private refreshing: Promise<Tokens> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private socket: Client | null = null;
  private socketOpen = false;
  /** Bumped on every new socket so callbacks of an old one are ignored. */
  private generation = 0;
  private attempts = 0;
  private everConnected = false;
  private currentStatus: ConnectionStatus = 'idle';
  private readonly live = new Set<LiveOperation>();
  private readonly devices: DeviceTokenStore;
  private readonly secondFactorPrompt: SecondFactorPrompt | undefined;
  /** The login waiting for its second step: the account (for its device token) and the challenge. */
  private pendingLogin: { account: string; challenge: string } | null = null;
  private readonly dpopMode: boolean | 'auto';
  /** Whether the last password step went out bound (DPoP), so that its second step goes out bound too. */
  private loginBound = false;
  /** The DPoP key pair and its public JWK, once made or given. */
  private readonly dpopKey: DpopKey;
  private readonly listeners: { [K in keyof SwitchboardEvents]: Set<Listener<SwitchboardEvents[K]>> } = {
    tokens: new Set(),
    status: new Set(),
    ended: new Set(),
    connected: new Set(),
  };

  constructor(options: SwitchboardClientOptions) {
    this.url = options.url;
    this.wsUrl = options.wsUrl ?? options.url.replace(/^http/, 'ws');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.devices = options.devices ?? memoryDeviceTokenStore();
    this.secondFactorPrompt = options.secondFactor;
    this.dpopMode = options.dpop ?? 'auto';
    this.dpopKey = new DpopKey(options.dpopKey);
    this.options = {
      refreshBefore: options.refreshBefore ?? 60_000,
      autoRefresh: options.autoRefresh ?? true,
      retryDelay: options.retryDelay ?? 500,
      maxRetryDelay: options.maxRetryDelay ?? 15_000,
      sendAttempts: options.sendAttempts ?? 4,
      webSocketImpl: options.webSocketImpl,
    };
    this.currentTokens = options.tokens ?? null;
    this.scheduleRefresh();
  }

  /** The current tokens (null when signed out). */
  get tokens(): Tokens | null {
    return this.currentTokens;
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

  // ---- HTTP ----

  /**
   * Runs a query or mutation over HTTP with the current access token (renewed
   * first when it is about to expire). GraphQL errors throw GraphQLRequestError.
   */
  async request<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables?: TVariables, options: { auth?: boolean } = {}): Promise<TResult> {
    const token = options.auth !== false && this.currentTokens ? await this.accessToken() : null;
    return this.post(document, variables, token);
  }

  /**
   * POSTs an operation. A DPoP-bound `token` goes as `Authorization: DPoP` with a proof for it; with `bind`
   * (login, refresh) a proof of the key comes along without a token, so that the new tokens are bound to it.
   */
  private async post<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables | undefined, token: string | null, bind = false): Promise<TResult> {
    const bound = token !== null && boundKeyOf(token) !== null;
    const proof = bound || bind ? await this.dpopKey.proof('POST', this.url, bound ? token : undefined) : null;
    let response: Response;
    try {
      response = await this.fetchImpl(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token ? { authorization: `${bound ? 'DPoP' : 'Bearer'} ${token}` } : {}),
          ...(proof ? { dpop: proof } : {}),
        },
        body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
      });
    } catch (error) {
      throw new TransportError(`request failed: ${(error as Error).message}`);
    }
    let body: { data?: TResult | null; errors?: GraphQLRequestError['errors'] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new TransportError(`HTTP ${response.status} without a GraphQL answer`, response.status);
    }
    if (body.errors?.length) throw new GraphQLRequestError(body.errors);
    if (!body.data) throw new TransportError(`HTTP ${response.status} without data`, response.status);
    return body.data;
  }

  // ---- session ----

  /** Creates an account (it does not sign in). */
  async register(input: RegisterInput) {
    return (await this.request(RegisterDocument, { input }, { auth: false })).register;
  }

  /**
   * Signs in, keeps the tokens and opens the live connection. For an account with a second factor it asks
   * `prompt` (or the `secondFactor` option) for a code; with neither, it rejects with SECOND_FACTOR_REQUIRED
   * and `completeLogin(code)` finishes.
   */
  async login(login: string, password: string, prompt: SecondFactorPrompt | undefined = this.secondFactorPrompt) {
    const account = login.trim().toLowerCase();
    const deviceToken = this.devices.get(account) ?? null;
    this.pendingLogin = null;
    let auth: AuthFieldsFragment & { deviceToken?: string | null };
    try {
      auth = await this.postLogin({ input: { login, password, deviceToken } });
    } catch (error) {
      const challenge = secondFactorChallenge(error);
      if (!challenge) throw error;
      this.pendingLogin = { account, challenge: challenge.challenge };
      if (challenge.enrolment || !prompt) throw error;
      return this.completeLogin(await prompt(challenge));
    }
    return this.adopt(auth, account);
  }

  // ---- Two-factor sign-in ----

  /** Finishes the login that answered SECOND_FACTOR_REQUIRED with a code (or a recovery code). */
  async completeLogin(code: string, challenge = this.pendingLogin?.challenge) {
    if (!challenge) throw new GraphQLRequestError([{ message: 'No sign-in is waiting for a code: call login first.', extensions: { code: 'BAD_USER_INPUT' } }]);
    const account = this.pendingLogin?.challenge === challenge ? this.pendingLogin.account : null;
    const deviceToken = account ? (this.devices.get(account) ?? null) : null;
    // Bound like the password step when that one was (DPoP): the session's tokens carry the same key.
    const { loginWithSecondFactor: auth } = await this.post(LoginWithSecondFactorDocument, { input: { challenge, code, deviceToken } }, null, this.loginBound);
    this.pendingLogin = null;
    return this.adopt(auth, account);
  }

  /** Starts enrolling a second factor: signed in, or with an enrolment challenge (SECOND_FACTOR_ENROLMENT_REQUIRED). Show `uri` as a QR code. */
  async enrolSecondFactor(challenge?: string) {
    return (await this.request(EnrolSecondFactorDocument, { challenge: challenge ?? null }, { auth: !challenge })).enrolSecondFactor;
  }

  /** Confirms the enrolment with a first code; returns the recovery codes. With an enrolment challenge it also signs in (`user`). */
  async confirmSecondFactor(code: string, challenge?: string) {
    const account = challenge && this.pendingLogin?.challenge === challenge ? this.pendingLogin.account : null;
    const deviceToken = account ? (this.devices.get(account) ?? null) : null;
    const { confirmSecondFactor: result } = await this.request(ConfirmSecondFactorDocument, { code, challenge: challenge ?? null, deviceToken }, { auth: !challenge });
    let user: AuthFieldsFragment['user'] | null = null;
    if (result.session) {
      this.pendingLogin = null;
      user = this.adopt(result.session, account);
    }
    return { recoveryCodes: result.recoveryCodes, user };
  }

  /** Removes the second factor; needs a current code or an unused recovery code. */
  async disableSecondFactor(code: string): Promise<void> {
    await this.request(DisableSecondFactorDocument, { code });
  }

  /**
   * The password step: bound to the DPoP key when `dpop` is true, or in 'auto' when the server asks for it
   * (it refuses before it checks the password, so nothing is counted against the account).
   */
  private async postLogin(input: { input: { login: string; password: string; deviceToken: string | null } }) {
    this.loginBound = this.dpopMode === true;
    try {
      return (await this.post(LoginDocument, input, null, this.loginBound)).login;
    } catch (error) {
      if (this.dpopMode !== 'auto' || !wantsDpop(error)) throw error;
      this.loginBound = true;
      return (await this.post(LoginDocument, input, null, true)).login;
    }
  }

  /** Keeps a new session's tokens and device token and opens the live connection. */
  private adopt(auth: AuthFieldsFragment & { deviceToken?: string | null }, account: string | null) {
    if (auth.deviceToken) {
      for (const name of [account, auth.user.username.toLowerCase(), auth.user.email?.toLowerCase()]) if (name) this.devices.set(name, auth.deviceToken);
    }
    this.teardown();
    this.everConnected = false;
    this.setTokens(toTokens(auth));
    this.connect();
    return auth.user;
  }

  // ---- end two-factor sign-in ----

  /** Ends the session on the server (every socket of it closes) and here. */
  async logout(): Promise<void> {
    const token = this.currentTokens?.accessToken ?? null;
    this.end({ reason: 'logout', message: endMessages.logout });
    if (token) await this.post(LogoutDocument, undefined, token).catch(() => undefined);
  }

  /** Closes the socket and timers, keeping the tokens (resume with `connect()`). */
  close(): void {
    this.teardown();
    for (const op of this.live) op.stop?.();
    this.live.clear();
    this.setStatus('idle');
  }

  private setTokens(tokens: Tokens | null): void {
    this.currentTokens = tokens;
    this.scheduleRefresh();
    this.emit('tokens', tokens);
  }

  /** Time to renew before expiry: refreshBefore, at most a quarter of the token's remaining life when it arrived. */
  private renewalMargin(tokens: Tokens): number {
    const life = Math.max(0, tokens.accessTokenExpiresAt - Date.now());
    return Math.min(this.options.refreshBefore, life / 4);
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const tokens = this.currentTokens;
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

  /** An access token good for a while yet, refreshing first when it is (nearly) expired. */
  private async accessToken(): Promise<string> {
    const tokens = this.currentTokens;
    if (!tokens) throw new GraphQLRequestError([{ message: 'Sign in first.', extensions: { code: 'UNAUTHENTICATED' } }]);
    if (tokens.accessTokenExpiresAt - Date.now() > 1000) return tokens.accessToken;
    return (await this.refresh()).accessToken;
  }

  /**
   * Rotates the refresh token. One refresh at a time: a refresh token works
   * once, and presenting it twice would end the session. Sent over the live
   * socket when it is open, so the server renews that socket in place.
   * A refused refresh ends the session with reason `revoked`.
   */
  refresh(): Promise<Tokens> {
    this.refreshing ??= (async () => {
      const tokens = this.currentTokens;
      if (!tokens) throw new GraphQLRequestError([{ message: 'Sign in first.', extensions: { code: 'UNAUTHENTICATED' } }]);
      try {
        const variables = { refreshToken: tokens.refreshToken };
        const send = async (bind: boolean) =>
          this.socket && this.socketOpen
            ? this.overSocket(this.socket, RefreshDocument, variables, bind ? { dpop: await this.dpopKey.proof('POST', this.url) } : undefined)
            : this.post(RefreshDocument, variables, null, bind);
        // A bound session's refresh token works only with a proof of its key; an unbound one is bound when the server asks.
        const bound = boundKeyOf(tokens.accessToken) !== null || this.dpopMode === true;
        let data;
        try {
          data = await send(bound);
        } catch (error) {
          if (bound || this.dpopMode !== 'auto' || !wantsDpop(error)) throw error;
          data = await send(true);
        }
        const renewed = toTokens(data.refresh);
        this.setTokens(renewed);
        return renewed;
      } catch (error) {
        const retriable = error instanceof GraphQLRequestError && (error.code === 'RATE_LIMITED' || error.code === 'INTERNAL_SERVER_ERROR');
        if (error instanceof GraphQLRequestError && !retriable) this.end({ reason: 'revoked', message: endMessages.revoked });
        throw error;
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** One query or mutation over the socket. */
  private overSocket<TResult, TVariables>(socket: Client, document: TypedDocumentString<TResult, TVariables>, variables: TVariables, extensions?: Record<string, unknown>): Promise<TResult> {
    return new Promise((resolve, reject) => {
      let settled = false;
      socket.subscribe<TResult>(
        { query: document.toString(), variables: variables as Variables, ...(extensions ? { extensions } : {}) },
        {
          next: (result) => {
            settled = true;
            if (result.errors?.length) reject(new GraphQLRequestError(result.errors));
            else resolve(result.data as TResult);
          },
          error: (error) => {
            settled = true;
            reject(Array.isArray(error) ? new GraphQLRequestError(error) : new TransportError(`socket closed during the request (${isCloseLike(error) ? error.code : 'error'})`));
          },
          complete: () => {
            if (!settled) reject(new TransportError('socket request completed without an answer'));
          },
        },
      );
    });
  }

  // ---- live connection ----

  /** Opens the live connection (login does it); also tries again after the `limit` end. */
  connect(): void {
    if (!this.currentTokens || this.socket) return;
    clearTimeout(this.reconnectTimer);
    this.open();
  }

  private open(): void {
    const generation = ++this.generation;
    this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
    const socket = createClient({
      url: this.wsUrl,
      webSocketImpl: this.options.webSocketImpl,
      lazy: false,
      retryAttempts: 0,
      keepAlive: 15_000,
      connectionParams: async () => {
        const token = await this.accessToken();
        // A bound token needs a proof for GET on the endpoint's http(s) URL (src/auth/dpop.ts).
        if (boundKeyOf(token) === null) return { authorization: `Bearer ${token}` };
        return { authorization: `DPoP ${token}`, dpop: await this.dpopKey.proof('GET', this.url, token) };
      },
      on: {
        connected: () => {
          if (generation !== this.generation) return;
          this.socketOpen = true;
          this.attempts = 0;
          const reconnected = this.everConnected;
          this.everConnected = true;
          this.setStatus('connected');
          this.emit('connected', { reconnected });
          for (const op of this.live) void this.resume(op);
        },
        closed: (event) => this.lost(generation, event),
      },
      onNonLazyError: (error) => this.lost(generation, error),
    });
    this.socket = socket;
  }

  /** The socket of `generation` closed or failed: stop for good, or reconnect with backoff. */
  private lost(generation: number, event: unknown): void {
    if (generation !== this.generation || !this.socket) return;
    const old = this.socket;
    this.socket = null;
    this.socketOpen = false;
    this.generation++;
    dispose(old);
    const code = isCloseLike(event) ? event.code : undefined;
    const reason = code !== undefined ? terminalCloses[code] : undefined;
    if (reason) {
      const serverReason = isCloseLike(event) && event.reason ? event.reason : '';
      const message = reason === 'limit' && /slot|seat/i.test(serverReason) ? endMessages.limit : serverReason || endMessages[reason];
      this.end({ reason, code, message }, reason === 'limit');
      return;
    }
    if (!this.currentTokens) return;
    this.setStatus('reconnecting');
    const delay = Math.min(this.options.maxRetryDelay, this.options.retryDelay * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      if (!this.socket && this.currentTokens) this.open();
    }, delay);
  }

  private teardown(): void {
    clearTimeout(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    this.generation++;
    this.socketOpen = false;
    const socket = this.socket;
    this.socket = null;
    if (socket) dispose(socket);
  }

  /**
   * Stops: closes the socket, forgets the tokens (unless `keepTokens`, for a
   * refused seat) and reports why. Subscriptions are kept for a later
   * `connect()` only when the tokens are kept.
   */
  private end(end: SessionEnd, keepTokens = false): void {
    if (this.currentStatus === 'ended' && !this.currentTokens) return;
    this.teardown();
    if (!keepTokens) {
      for (const op of this.live) op.stop?.();
      this.live.clear();
      this.setTokens(null);
    }
    this.setStatus('ended');
    this.emit('ended', end);
  }

  /** (Re)starts one live operation on the current socket. */
  private async resume(op: LiveOperation): Promise<void> {
    const socket = this.socket;
    const generation = this.generation;
    if (!socket || !this.socketOpen || !this.live.has(op)) return;
    if (op.prepare) {
      try {
        await op.prepare();
      } catch (error) {
        // Refused (not a member, no such room): the operation ends. Otherwise
        // the connection is likely down again, and the next one retries.
        if (error instanceof GraphQLRequestError && this.live.delete(op)) op.error(error);
        return;
      }
      if (generation !== this.generation || !this.socketOpen || !this.live.has(op)) return;
    }
    op.generation = generation;
    op.stop = socket.subscribe(
      { query: op.query, variables: op.variables() },
      {
        next: (result) => {
          if (op.generation !== this.generation) return;
          if (result.errors?.length && !result.data) {
            this.live.delete(op);
            op.error(new GraphQLRequestError(result.errors));
          } else op.next(result.data);
        },
        error: (error) => {
          // A close is not the operation's end: the next connection resumes it.
          if (op.generation !== this.generation || !Array.isArray(error)) return;
          this.live.delete(op);
          op.error(new GraphQLRequestError(error));
        },
        complete: () => {
          if (op.generation !== this.generation || !this.live.has(op)) return;
          this.live.delete(op);
          op.complete();
        },
      },
    );
  }

  private addLive(op: Omit<LiveOperation, 'generation'>): Subscription {
    const entry: LiveOperation = { ...op, generation: -1 };
    this.live.add(entry);
    void this.resume(entry);
    return {
      unsubscribe: () => {
        if (!this.live.delete(entry)) return;
        entry.stop?.();
      },
    };
  }

  /**
   * A subscription that lives across reconnects (restarted with the same
   * variables on each new connection).
   */
  subscribe<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables, handlers: SubscriptionHandlers<TResult>): Subscription {
    return this.addLive({
      query: document.toString(),
      variables: () => (variables ?? {}) as Variables,
      next: (data) => handlers.next(data as TResult),
      error: (error) => handlers.error?.(error),
      complete: () => handlers.complete?.(),
    });
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
    let cursor: string | null = options.after ?? null;
    return this.addLive({
      query: RoomMessagesDocument.toString(),
      variables: () => ({ roomId, after: cursor }),
      // Still null when the room is not readable: the subscription then ends with the server's refusal.
      prepare: async () => {
        if (cursor === null) cursor = (await this.request(RoomMessagesCursorDocument, { roomId })).room?.messagesCursor ?? null;
      },
      next: (data) => {
        const message = (data as { roomMessages: MessageFieldsFragment }).roomMessages;
        cursor = message.cursor;
        handlers.next(message);
      },
      error: (error) => handlers.error?.(error),
      complete: () => handlers.complete?.(),
    });
  }

  /**
   * The rooms the user may see, kept current: read with `rooms` whenever
   * roomListChanges says RESYNC (as every subscription starts, so at each
   * connect too, and after the server's outage), then changed by each change
   * it tells. Changes heard while a read is under way are applied again to
   * what it read, which may predate them.
   */
  liveRooms(handlers: RoomListHandlers, options: RoomListOptions = {}): LiveRoomList {
    const pageSize = options.pageSize ?? 100;
    const maxPages = options.maxPages ?? 100;
    let rooms: readonly RoomFieldsFragment[] = [];
    let stopped = false;
    /** Per read under way, the changes heard since it began. */
    const heardDuringReads = new Set<RoomListChange[]>();
    const read = async (): Promise<void> => {
      const heard: RoomListChange[] = [];
      heardDuringReads.add(heard);
      try {
        const found: RoomFieldsFragment[] = [];
        let after: string | null | undefined;
        for (let page = 0; page < maxPages; page++) {
          const { rooms: connection } = await this.request(RoomsDocument, { first: pageSize, after });
          found.push(...connection.edges.map((edge) => edge.node));
          if (!connection.pageInfo.hasNextPage) break;
          after = connection.pageInfo.endCursor;
        }
        if (stopped) return;
        rooms = heard.reduce(applyRoomChange, found);
        handlers.next(rooms, null);
      } finally {
        heardDuringReads.delete(heard);
      }
    };
    const subscription = this.addLive({
      query: RoomListChangesDocument.toString(),
      variables: () => ({}),
      next: (data) => {
        const change = (data as RoomListChangesSubscription).roomListChanges;
        if (change.kind === 'RESYNC') return void read().catch((error: Error) => handlers.readFailed?.(error));
        for (const heard of heardDuringReads) heard.push(change);
        rooms = applyRoomChange(rooms, change);
        handlers.next(rooms, change);
      },
      error: (error) => handlers.error?.(error),
      complete: () => undefined,
    });
    return {
      get rooms() {
        return rooms;
      },
      refresh: read,
      unsubscribe: () => {
        stopped = true;
        subscription.unsubscribe();
      },
    };
  }

  /**
   * Sends a message. When the answer is lost (network error, 5xx), it sends
   * again with the same idempotency key: the server stores it once and
   * answers with the first message.
   */
  async sendMessage(roomId: string, body: string, options: { idempotencyKey?: string } = {}) {
    const idempotencyKey = options.idempotencyKey ?? newIdempotencyKey();
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.request(SendMessageDocument, { roomId, body, idempotencyKey })).sendMessage;
      } catch (error) {
        const transient = error instanceof TransportError && (error.status === undefined || error.status >= 500);
        if (!transient || attempt >= this.options.sendAttempts) throw error;
        await sleep(Math.min(this.options.maxRetryDelay, this.options.retryDelay * 2 ** (attempt - 1)));
      }
    }
  }
}
