/**
 * Every wire-visible code and every shared-state name, defined once:
 * GraphQL error codes, WebSocket close codes, Redis keys and bus channels.
 */

/** `extensions.code` of every GraphQL error (PRODUCT.md, "Input limits and errors"). */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  ROOM_FULL: 'ROOM_FULL',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /**
   * `login`: the password was right and the account has a second factor. No session yet: `extensions.challenge`
   * goes to `loginWithSecondFactor` with a code (src/auth/second-factor.ts).
   */
  SECOND_FACTOR_REQUIRED: 'SECOND_FACTOR_REQUIRED',
  /**
   * `login`: the password was right, but the account is an admin without a second factor and ADMIN_REQUIRE_2FA is on.
   * `extensions.challenge` allows only `enrolSecondFactor` and `confirmSecondFactor`; confirming signs in.
   */
  SECOND_FACTOR_ENROLMENT_REQUIRED: 'SECOND_FACTOR_ENROLMENT_REQUIRED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * `extensions.reason` of the UNAUTHENTICATED errors of DPoP (src/auth/dpop.ts): REQUIRED when a bound
 * token or a proof was needed and none came (DPOP_REQUIRED, a bound token sent as Bearer, a bound
 * session's refresh without a proof), INVALID_PROOF when the proof was bad, replayed or of another key.
 */
export const DpopReason = {
  required: 'DPOP_REQUIRED',
  invalidProof: 'INVALID_DPOP_PROOF',
} as const;
export type DpopReason = (typeof DpopReason)[keyof typeof DpopReason];

/** HTTP status that goes with each error code when it ends a whole HTTP request. */
export const httpStatusOf: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  ROOM_FULL: 409,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL_SERVER_ERROR: 500,
  SECOND_FACTOR_REQUIRED: 401,
  SECOND_FACTOR_ENROLMENT_REQUIRED: 401,
};

/**
 * The request header a cookie-only `refresh` must carry (any value; clients send `1`). Browsers
 * send no custom header cross-site without a CORS preflight, which a foreign origin fails
 * (src/plugins/origin.ts), so a page elsewhere cannot spend the HttpOnly refresh cookie.
 */
export const CSRF_HEADER = 'x-switchboard-csrf';

/**
 * Application close codes of the graphql-ws socket. graphql-ws keeps its own
 * (4400, 4401, 4408, 4409, 4429, 4500) for protocol faults.
 */
export enum CloseCode {
  /** Server shutting down (WebSocket "going away"). */
  GoingAway = 1001,
  /** The client reads too slowly: more than MAX_SOCKET_BUFFER bytes waited to be sent (WebSocket "policy violation"). */
  SlowConsumer = 1008,
  /**
   * Not admitted now, try again (WebSocket "try again later"): Redis is unreachable, or it lost its state and the
   * instances are putting their seats back (slots/recovery.ts); the reason says which.
   */
  TryAgainLater = 1013,
  /** The session was ended: logout, refresh-token reuse, admin, user deleted, roles changed. */
  SessionRevoked = 4001,
  /** The session was replaced by a newer login (single-session policy). */
  SessionReplaced = 4002,
  /** The access token expired and was not renewed over the socket. */
  TokenExpired = 4003,
  /** A connection limit was reached; the reason names which (slots, sockets, rate). */
  LimitReached = 4029,
  /** Missing, malformed, wrongly signed, expired or revoked token at connection_init. */
  BadToken = 4403,
}

/**
 * `extensions.limit` of the RATE_LIMITED error that refuses a subscription past a cap: the variable that
 * sets it. No retryAfter: a place frees when one of the socket's or user's subscriptions ends, not with time.
 */
export const SubscriptionLimit = {
  perSocket: 'MAX_SUBSCRIPTIONS_PER_SOCKET',
  perUser: 'MAX_SUBSCRIPTIONS_PER_USER',
} as const;

/** Why a session ended; decides the close code of its live sockets. */
export const sessionEndReasons = ['logout', 'refresh_reuse', 'session_replaced', 'revoked', 'roles_changed', 'user_deleted'] as const;
export type SessionEndReason = (typeof sessionEndReasons)[number];

export const closeCodeForSessionEnd = (reason: SessionEndReason): CloseCode =>
  reason === 'session_replaced' ? CloseCode.SessionReplaced : CloseCode.SessionRevoked;

/**
 * What every Redis key and bus channel starts with (REDIS_PREFIX, set once by
 * src/main.ts before anything names a key): deployments, or test files, that
 * share one Redis keep apart by giving each its own.
 * @default 'sb:'
 */
let prefix = 'sb:';

/** Sets the prefix of every key and channel; call it before the app starts (src/main.ts). */
export function useKeyPrefix(value: string): void {
  prefix = value;
}

/** The prefix of every key and channel now in use. */
export const keyPrefix = (): string => prefix;

/**
 * Keys one atomic script touches together share a hash tag (the part in
 * braces), so that on a Redis Cluster they live in one slot: a script's
 * keys must. Seats, sockets and presence are one group (the presence check
 * reads the seats).
 */
const seatsTag = () => `${prefix}{seats}`;

/** Redis (or in-process) shared-state keys. */
export const Keys = {
  /** Marks a revoked session id until its last access token has expired. */
  revokedSession: (sid: string) => `${prefix}revoked:${sid}`,
  /** Sorted set: user id -> lease expiry of that user's seat (ms). */
  get seats() {
    return seatsTag();
  },
  /** Sorted set: socket id -> lease expiry (ms), one per user. */
  userSockets: (userId: string) => `${seatsTag()}:sockets:${userId}`,
  /**
   * Hash, one per user: socket id (or SSE stream id) -> subscriptions it holds. A field counts only while its
   * socket is live in `userSockets`, so a killed instance's counts stop counting with its sockets' leases.
   */
  userSubscriptions: (userId: string) => `${seatsTag()}:subscriptions:${userId}`,
  /** Hash: user id -> ONLINE, AWAY (set by the user) or IDLE (away by inactivity); absent: OFFLINE. */
  get presence() {
    return `${seatsTag()}:presence`;
  },
  /** Hash: user id -> time of the user's last operation on any socket (ms). */
  get activity() {
    return `${seatsTag()}:activity`;
  },
  /** Counter: the number of the last presence change, each change's order (presence/scripts.ts). */
  get presenceSeq() {
    return `${seatsTag()}:presence-seq`;
  },
  /**
   * Hash {epoch, createdAt, openAt}: which life of the shared state this is. Written when missing; an instance that
   * knew another epoch (or finds none) knows Redis lost its state and puts back what it holds (slots/recovery.ts).
   * Admissions wait until openAt.
   */
  get stateEpoch() {
    return `${seatsTag()}:state-epoch`;
  },
  /** Counters of the sign-in anomaly rules, per kind and user (or minute): src/auth/anomalies.ts. */
  authAnomaly: (kind: string, id: string) => `${prefix}anomaly:${kind}:${id}`,
  /**
   * Rate limit counters: `${rateLimit(rule, group)}:${key}` (adapters/rate-limit.ts). Rules taken
   * together in one step name the same `group`, their hash tag.
   */
  rateLimit: (rule: string, group?: string) => (group ? `${prefix}rl:{${group}}:${rule}` : `${prefix}rl:${rule}`),
  /** A DPoP proof's jti (hashed with its key's thumbprint), kept while the proof could still be accepted: a second use is a replay. */
  dpopProof: (digest: string) => `${prefix}dpop:${digest}`,
  /** A started OIDC sign-in (state, nonce, PKCE verifier), by the hash of its browser cookie; taken once (auth/oidc.ts). */
  oidcSignIn: (hash: string) => `${prefix}oidc:${hash}`,
};

/** The HTTP routes of sign-in through an OpenID Connect provider (src/auth/oidc-routes.ts). */
export const OidcPaths = {
  /** GET: which providers the web page may offer (JSON). */
  providers: '/auth/providers',
  /** GET: starts a sign-in: redirects the browser to the provider. */
  start: '/auth/oidc/start',
  /** GET: where the provider sends the browser back. */
  callback: '/auth/oidc/callback',
  /** Path of the cookie that ties a started sign-in to its browser. */
  cookiePath: '/auth/oidc',
} as const;

const roomChannelPrefix = () => `${prefix}room:`;
const invitationChannelPrefix = () => `${prefix}invited:`;

/** Bus channels: what one instance tells all the others (and itself). */
export const Channels = {
  get sessionEnded() {
    return `${prefix}session-ended`;
  },
  get slotsChanged() {
    return `${prefix}slots-changed`;
  },
  get presenceChanged() {
    return `${prefix}presence-changed`;
  },
  roomEvents: (roomId: string) => `${roomChannelPrefix()}${roomId}`,
  /** New invitations of one user (rooms/invitations.ts). */
  roomInvitations: (userId: string) => `${invitationChannelPrefix()}${userId}`,
  /** Changes of who may see which room (rooms/room-list.ts). */
  get roomList() {
    return `${prefix}room-list`;
  },
  /** Who reads the server log, and from which level: instances send their lines while someone does (operations/server-log.ts). */
  get serverLogWanted() {
    return `${prefix}server-log-wanted`;
  },
  /** Log lines of the instances, while someone reads them. */
  get serverLogLines() {
    return `${prefix}server-log-lines`;
  },
  /** Every instance listens, to nothing: its subscriber count tells a starting instance whether others are up (slots/recovery.ts). */
  get instances() {
    return `${prefix}instances`;
  },
  /** The allowed origins changed (src/operations/origins.ts): every instance reads them again. */
  get originsChanged() {
    return `${prefix}origins-changed`;
  },
  /** An instance gave up publishing something: every instance re-reads what it keeps from the bus (adapters/outbox.ts). */
  get reread() {
    return `${prefix}reread`;
  },
};

/**
 * Channels of one room or one user: on a Redis Cluster they go through
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE), so that their traffic stays on the
 * shard that owns the channel; the others reach every node.
 */
export const isShardedChannel = (channel: string): boolean => channel.startsWith(roomChannelPrefix()) || channel.startsWith(invitationChannelPrefix());
