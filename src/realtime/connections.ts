/**
 * The life of one graphql-ws socket, from connection_init to close:
 *
 * 1. a connection attempt per IP is counted (CONNECTS_PER_IP per
 *    CONNECT_WINDOW, one budget with subscriptions over SSE; past it:
 *    4029 "rate");
 * 2. the token of the connection_init payload is verified with the same code
 *    as HTTP (4403 when missing, bad, expired or revoked; a DPoP-bound token
 *    needs `dpop`, a proof for GET on the endpoint's http(s) URL:
 *    src/auth/dpop.ts);
 * 3. a seat is taken (4029 "slots" or "sockets" when none is left; 1013
 *    while the seats are put back after Redis lost its state);
 * 4. while open, the socket ends with 4001/4002 when its session ends on any
 *    instance, and with 4003 when its access token expires, unless a
 *    `refresh` sent over it renewed the token first (`renew`);
 * 5. on close its seat is released (freed when it was its user's last socket).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { App } from '../app.ts';
import type { LiveConnection, Viewer } from '../context.ts';
import { authenticate, parseAuthorization } from '../auth/dpop.ts';
import { CloseCode, ErrorCode, closeCodeForSessionEnd } from '../core/codes.ts';
import { hasCode } from '../core/errors.ts';
import { consumeOrThrow, createRateLimiter } from '../adapters/rate-limit.ts';
import { delayUntil } from '../utils/timers.ts';
import { recordAudit } from '../auth/audit.ts';

/** What the server keeps about one live socket; operations see it as `ctx.connection`. */
export interface SocketState extends LiveConnection {
  viewer: Viewer;
  ip: string | null;
  /** Subscriptions it holds or is starting (MAX_SUBSCRIPTIONS_PER_SOCKET). */
  subscriptions: number;
  /** Whether it ever took a place among its user's subscriptions: its places are given back when it closes. */
  heldSubscriptions: boolean;
  /** The endpoint's http(s) URL as this socket's client reached it: the `htu` of DPoP proofs sent over it (src/auth/dpop.ts). */
  readonly endpoint: string;
}

export interface Connections {
  /**
   * Runs steps 1-3 for a socket at connection_init. Resolves to its state
   * when admitted; else the socket is already closed with the code that says why.
   */
  open(socket: WebSocket, request: IncomingMessage, connectionParams: unknown): Promise<SocketState | null>;
  /** Sockets open on this instance. */
  readonly size: number;
  stop(): void;
}

/**
 * Connection attempts per IP, CONNECTS_PER_IP per CONNECT_WINDOW: one budget
 * for WebSocket connections and subscriptions over SSE, so that switching
 * transport does not double an address's attempts.
 */
export const connectAttempts = (app: Pick<App, 'state' | 'config'>) =>
  createRateLimiter(app.state, { name: 'connect', points: app.config.CONNECTS_PER_IP, windowSeconds: app.config.CONNECT_WINDOW });

/**
 * The credentials of a connection_init payload: `{ authorization: "Bearer <jwt>" }`, `{ token: "<jwt>" }`
 * (Bearer), or `{ authorization: "DPoP <jwt>", dpop: "<proof>" }` (src/auth/dpop.ts).
 */
export function credentialsFromConnectionParams(params: unknown): { authorization: { scheme: 'Bearer' | 'DPoP'; token: string }; proof: string | null } | null {
  if (!params || typeof params !== 'object') return null;
  const { authorization, Authorization, token, dpop } = params as Record<string, unknown>;
  const header = typeof authorization === 'string' ? authorization : typeof Authorization === 'string' ? Authorization : null;
  const proof = typeof dpop === 'string' && dpop.length > 0 ? dpop : null;
  if (header) {
    const parsed = parseAuthorization(header);
    return parsed ? { authorization: parsed, proof } : null;
  }
  return typeof token === 'string' && token.length > 0 ? { authorization: { scheme: 'Bearer', token }, proof } : null;
}

/** The endpoints sockets reached, each string kept once: every idle socket holds one, and they are nearly always the same. */
const knownEndpoints = new Map<string, string>();
const knownEndpointsMax = 64;

/** The http(s) URL of the endpoint a WebSocket upgrade reached (query left out): a DPoP proof's htu names it. */
function endpointOf(request: IncomingMessage): string {
  const secure = Boolean((request.socket as { encrypted?: boolean }).encrypted);
  const path = (request.url ?? '/').split('?')[0];
  const endpoint = `${secure ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}${path}`;
  const known = knownEndpoints.get(endpoint);
  if (known) return known;
  if (knownEndpoints.size < knownEndpointsMax) knownEndpoints.set(endpoint, endpoint);
  return endpoint;
}

const reasons = {
  rate: 'rate: too many connection attempts from your address',
  token: 'Forbidden: missing, invalid, expired or revoked token',
  expired: 'access token expired',
  unavailable: 'service temporarily unavailable',
} as const;

/** `text` cut to the 123 bytes a WebSocket close reason may hold (ws throws past that). */
function closeReason(text: string): string {
  let reason = text;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

/** Session id -> its sockets on this instance. */
type SessionSockets = Map<string, Set<LiveSocket>>;

/**
 * One admitted socket: its state, its place among its session's sockets,
 * and the timer that closes it when its token expires. A class rather than
 * closures made per socket: every idle socket holds one of these, and each
 * named closure would cost its own function object (tsx also gives each its
 * own name property).
 */
class LiveSocket implements SocketState {
  private expiry: NodeJS.Timeout | undefined;
  subscriptions = 0;
  heldSubscriptions = false;

  constructor(
    readonly socket: WebSocket,
    readonly id: string,
    public viewer: Viewer,
    readonly ip: string | null,
    private readonly sessions: SessionSockets,
    readonly endpoint: string,
  ) {
    this.track();
  }

  renew(renewed: Viewer) {
    if (renewed.userId !== this.viewer.userId) return;
    this.untrack();
    this.viewer = renewed;
    this.track();
  }

  /** Stops tracking the socket once it closed. */
  end() {
    clearTimeout(this.expiry);
    this.untrack();
  }

  private track() {
    const { sessionId } = this.viewer;
    let sockets = this.sessions.get(sessionId);
    if (!sockets) this.sessions.set(sessionId, (sockets = new Set()));
    sockets.add(this);
    this.armExpiry();
  }

  private armExpiry() {
    clearTimeout(this.expiry);
    this.expiry = setTimeout(LiveSocket.expireIfDue, delayUntil(this.viewer.expiresAt * 1000), this);
  }

  /** Closes the socket with 4003 once its token has expired; a timer that fired before that (a token living longer than a timer can wait) waits again. */
  private static expireIfDue(live: LiveSocket) {
    if (live.viewer.expiresAt * 1000 > Date.now()) live.armExpiry();
    else live.socket.close(CloseCode.TokenExpired, reasons.expired);
  }

  private untrack() {
    const sockets = this.sessions.get(this.viewer.sessionId);
    sockets?.delete(this);
    if (sockets?.size === 0) this.sessions.delete(this.viewer.sessionId);
  }
}

export function createConnections(app: App): Connections {
  const attempts = connectAttempts(app);
  const sessions: SessionSockets = new Map();
  let open = 0;

  const refuse = (socket: WebSocket, code: CloseCode, reason: string, ip: string | null, userId?: string) => {
    socket.close(code, reason);
    void recordAudit(app, { kind: 'connection_rejected', userId: userId ?? null, ip, detail: { code, reason } });
  };

  const closed = (live: LiveSocket, code?: number) => {
    open--;
    app.logger.info({ connectionId: live.id, userId: live.viewer.userId, code }, 'socket closed');
    live.end();
    void app.slots.release(live.viewer.userId, live.id).catch((error) => app.logger.warn({ err: String(error) }, 'could not release a seat'));
    // One step for all of its subscriptions: each one's own release is skipped once the socket is closed.
    if (live.heldSubscriptions) void app.subscriptionLimits.releaseSocket(live.viewer.userId, live.id).catch((error) => app.logger.warn({ err: String(error) }, 'could not release subscription places'));
  };

  const stopListening = app.revocations.onSessionEnded(({ sessionId, reason }) => {
    for (const { socket } of sessions.get(sessionId) ?? []) socket.close(closeCodeForSessionEnd(reason), `session ended: ${reason}`);
  });

  return {
    get size() {
      return open;
    },
    async open(socket, request, connectionParams) {
      const ip = request.socket.remoteAddress ?? null;
      try {
        await consumeOrThrow({ limiter: attempts, key: ip ?? 'unknown' });
      } catch (error) {
        if (hasCode(error, ErrorCode.RATE_LIMITED)) refuse(socket, CloseCode.LimitReached, reasons.rate, ip);
        else socket.close(CloseCode.TryAgainLater, reasons.unavailable);
        return null;
      }

      const credentials = credentialsFromConnectionParams(connectionParams);
      const endpoint = endpointOf(request);
      const auth = credentials ? await authenticate(app, credentials.authorization, { proof: credentials.proof, htm: 'GET', htu: endpoint }) : null;
      const viewer = auth?.viewer;
      if (!viewer) {
        // A DPoP refusal says why (its message names no secret); a close reason holds at most 123 bytes.
        refuse(socket, CloseCode.BadToken, auth?.error ? closeReason(`Forbidden: ${auth.error.message}`) : reasons.token, ip);
        return null;
      }

      const socketId = `${app.instanceId}:${randomUUID()}`;
      let admission;
      try {
        admission = await app.slots.admit(viewer.userId, socketId);
      } catch (error) {
        app.logger.warn({ err: String(error) }, 'could not admit a socket');
        socket.close(CloseCode.TryAgainLater, reasons.unavailable);
        return null;
      }
      if (admission === 'held') {
        const seconds = Math.max(1, Math.ceil(app.slots.heldForMs() / 1000));
        refuse(socket, CloseCode.TryAgainLater, `recovering: seats are being counted again after Redis lost its state; try again in ${seconds} s`, ip, viewer.userId);
        return null;
      }
      if (admission === 'slots' || admission === 'sockets') {
        const reason =
          admission === 'slots'
            ? `slots: all ${app.config.MAX_CONNECTIONS} connection slots are in use`
            : `sockets: at most ${app.config.MAX_SOCKETS_PER_USER} sockets per user`;
        refuse(socket, CloseCode.LimitReached, reason, ip, viewer.userId);
        return null;
      }

      const live = new LiveSocket(socket, socketId, viewer, ip, sessions, endpoint);
      open++;
      // The client may have gone while we were admitting it.
      if (socket.readyState !== socket.OPEN) {
        closed(live);
        return null;
      }
      socket.once('close', (code: number) => closed(live, code));
      // The session may have ended while we were admitting it.
      if (app.revocations.isRevoked(viewer.sessionId)) {
        socket.close(CloseCode.SessionRevoked, 'session ended');
        return null;
      }
      app.logger.info({ connectionId: socketId, userId: viewer.userId, ip }, 'socket connected');
      return live;
    },
    stop() {
      stopListening();
    },
  };
}
