/**
 * The life of the SDK's one graphql-ws socket: it opens with the access token
 * (and a DPoP proof when the token is bound) in connection_init, reconnects
 * with backoff after a drop or the server's 4003, and stops for good on the
 * close codes that end a session. What runs over it is client/live.ts.
 */
import { createClient, type Client } from 'graphql-ws';
import { boundKeyOf } from './dpop.ts';
import { endMessages, type EndReason, type SessionEnd } from './session.ts';
import { isCloseLike, type HttpTransport } from './transport.ts';

/** Where the live connection is. */
export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'ended';

/** Close codes after which the SDK stops rather than reconnects. */
const terminalCloses: Record<number, EndReason> = { 4001: 'revoked', 4002: 'replaced', 4403: 'unauthorized', 4029: 'limit' };

/** Disposes a graphql-ws client whose socket may have been refused (its dispose then rejects with the close). */
const dispose = (socket: Client) => void Promise.resolve(socket.dispose()).catch(() => undefined);

export interface SocketOptions {
  /** The graphql-ws endpoint. */
  wsUrl: string;
  webSocketImpl: unknown;
  retryDelay: number;
  maxRetryDelay: number;
}

export interface SocketHooks {
  /** The access token for connection_init, renewed first when it is about to expire. */
  accessToken(): Promise<string>;
  /** Whether there is a session to (re)connect with. */
  signedIn(): boolean;
  status(status: 'connecting' | 'connected' | 'reconnecting'): void;
  /** Each connection_ack; `reconnected` is false for the first one of a session. */
  connected(reconnected: boolean): void;
  /** A close that ends the session; `keepTokens` for a refused seat (4029), which `connect()` may try again. */
  ended(end: SessionEnd, keepTokens: boolean): void;
}

export class LiveSocket {
  private socket: Client | null = null;
  private socketOpen = false;
  /** Bumped on every new socket so callbacks of an old one are ignored. */
  private currentGeneration = 0;
  private attempts = 0;
  private everConnected = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly options: SocketOptions,
    private readonly http: HttpTransport,
    private readonly hooks: SocketHooks,
  ) {}

  /** The socket once it is acknowledged (connection_ack), else null. */
  get openSocket(): Client | null {
    return this.socketOpen ? this.socket : null;
  }

  /** Which socket is current: what was started on an older one belongs to a closed connection. */
  get generation(): number {
    return this.currentGeneration;
  }

  /** Opens the socket unless one is open or on its way (or there is no session). */
  connect(): void {
    if (!this.hooks.signedIn() || this.socket) return;
    clearTimeout(this.reconnectTimer);
    this.open();
  }

  /** Closes the socket and forgets its history: a new session's first connection is not a reconnect. */
  restart(): void {
    this.teardown();
    this.everConnected = false;
  }

  /** Closes the socket and stops reconnecting. */
  teardown(): void {
    clearTimeout(this.reconnectTimer);
    this.currentGeneration++;
    this.socketOpen = false;
    const socket = this.socket;
    this.socket = null;
    if (socket) dispose(socket);
  }

  private open(): void {
    const generation = ++this.currentGeneration;
    this.hooks.status(this.everConnected ? 'reconnecting' : 'connecting');
    const socket = createClient({
      url: this.options.wsUrl,
      webSocketImpl: this.options.webSocketImpl,
      lazy: false,
      retryAttempts: 0,
      keepAlive: 15_000,
      connectionParams: async () => {
        const token = await this.hooks.accessToken();
        // A bound token needs a proof for GET on the endpoint's http(s) URL (src/auth/dpop.ts).
        if (boundKeyOf(token) === null) return { authorization: `Bearer ${token}` };
        return { authorization: `DPoP ${token}`, dpop: await this.http.proof('GET', token) };
      },
      on: {
        connected: () => {
          if (generation !== this.currentGeneration) return;
          this.socketOpen = true;
          this.attempts = 0;
          const reconnected = this.everConnected;
          this.everConnected = true;
          this.hooks.status('connected');
          this.hooks.connected(reconnected);
        },
        closed: (event) => this.lost(generation, event),
      },
      onNonLazyError: (error) => this.lost(generation, error),
    });
    this.socket = socket;
  }

  /** The socket of `generation` closed or failed: stop for good, or reconnect with backoff. */
  private lost(generation: number, event: unknown): void {
    if (generation !== this.currentGeneration || !this.socket) return;
    const old = this.socket;
    this.socket = null;
    this.socketOpen = false;
    this.currentGeneration++;
    dispose(old);
    const code = isCloseLike(event) ? event.code : undefined;
    const reason = code !== undefined ? terminalCloses[code] : undefined;
    if (reason) {
      const serverReason = isCloseLike(event) && event.reason ? event.reason : '';
      const message = reason === 'limit' && /slot|seat/i.test(serverReason) ? endMessages.limit : serverReason || endMessages[reason];
      this.hooks.ended({ reason, code, message }, reason === 'limit');
      return;
    }
    if (!this.hooks.signedIn()) return;
    this.hooks.status('reconnecting');
    const delay = Math.min(this.options.maxRetryDelay, this.options.retryDelay * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      if (!this.socket && this.hooks.signedIn()) this.open();
    }, delay);
  }
}
