/**
 * The one place that reads the environment. Every variable of PRODUCT.md's
 * configuration table, validated; durations are in seconds.
 */
import { z } from 'zod';
import { maxTimerDelay } from '../utils/timers.ts';
import { OidcPaths } from './codes.ts';

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
// Durations drive timers, which wait at most maxTimerDelay: a longer one would fire at once, over and over.
const seconds = (fallback: number) =>
  z.coerce
    .number()
    .positive()
    .max(maxTimerDelay / 1000, `must be at most ${Math.floor(maxTimerDelay / 1000)} (about 24.8 days, the longest a timer waits)`)
    .default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = z.string().min(1).optional();
const url = (protocols: string[]) =>
  z
    .url()
    .refine((v) => protocols.some((p) => v.startsWith(`${p}:`)), `must start with ${protocols.map((p) => `${p}:`).join(' or ')}`)
    .optional();
/** `host:port,host:port`: Redis Sentinels or Cluster nodes to start from. */
const hostPorts = z
  .string()
  .transform((v) => v.split(',').map((item) => item.trim()).filter(Boolean))
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port items separated by commas ([addr]:port for IPv6)')
          .transform((item) => {
            const at = item.lastIndexOf(':');
            return { host: item.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(item.slice(at + 1)) };
          })
          .refine((node) => node.port >= 1 && node.port <= 65535, 'ports must be 1 to 65535'),
      )
      .min(1, 'must name at least one host:port'),
  )
  .optional();

/** True when `value` is a URL whose host is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackUrl(value: string): boolean {
  try {
    const host = new URL(value).hostname;
    return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
  } catch {
    return false;
  }
}

/** `entry`'s origin when it is one (http or https, nothing after the port), else null. */
export function originOf(entry: string): string | null {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return null;
  }
  const bare = url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
  return bare && (url.protocol === 'http:' || url.protocol === 'https:') ? url.origin : null;
}

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(4000).pipe(z.number().max(65535)),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: url(['postgres', 'postgresql']),
  REDIS_URL: url(['redis', 'rediss']),
  REDIS_SENTINELS: hostPorts,
  REDIS_MASTER_NAME: optionalString,
  REDIS_CLUSTER_NODES: hostPorts,
  /**
   * What every Redis key and bus channel name starts with (src/core/codes.ts): deployments that share one
   * Redis each take their own. No braces: the part in braces of a key is its Cluster hash tag.
   * @default 'sb:'
   */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1 to 64 letters, digits or : _ . -')
    .default('sb:'),
  JWT_ALGORITHM: z.enum(['HS256', 'EdDSA']).default('HS256'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_SECRET_FILE: optionalString,
  JWT_PRIVATE_KEY: optionalString,
  JWT_PRIVATE_KEY_FILE: optionalString,
  JWT_PUBLIC_KEYS_FILE: optionalString,
  JWT_ACCEPTED_SECRETS_FILE: optionalString,
  ACCESS_TOKEN_TTL: int(900, 1),
  REFRESH_TOKEN_TTL: int(604800, 1),
  BCRYPT_COST: int(12, 4).pipe(z.number().max(31)),
  PASSWORD_QUEUE_MAX_WAIT: seconds(10),
  SINGLE_SESSION: bool(true),
  MAX_CONNECTIONS: int(100, 1),
  MAX_SOCKETS_PER_USER: int(5, 1),
  MAX_SUBSCRIPTIONS_PER_SOCKET: int(100, 1),
  MAX_SUBSCRIPTIONS_PER_USER: int(200, 1),
  MAX_SOCKET_BUFFER: int(8 * 1024 * 1024, 65536),
  KEEPALIVE_INTERVAL: seconds(12),
  SLOT_LEASE_TTL: seconds(60),
  ROOM_MAX_MEMBERS: int(500, 1),
  ROOM_LIST_COUNT_INTERVAL: seconds(1),
  MESSAGE_MAX_LENGTH: int(4000, 1),
  MESSAGE_RATE_PER_USER: int(20, 1),
  MESSAGE_RATE_PER_ROOM: int(200, 1),
  MESSAGE_RATE_WINDOW: int(10, 1),
  /**
   * Seconds a new send may expect to wait behind those in progress before it is refused as overloaded
   * (src/messages/admission.ts); 0 never refuses for load, and sends queue instead.
   * @default 0.1
   */
  SEND_QUEUE_MAX_WAIT: z.coerce.number().min(0).max(60).default(0.1),
  LOGIN_FAILURES_PER_ACCOUNT: int(5, 1),
  LOGIN_FAILURES_PER_IP: int(50, 1),
  LOGIN_FAILURE_WINDOW: int(900, 1),
  LOGIN_SLOWDOWN_MAX: int(60, 1),
  DEVICE_TOKEN_TTL: int(15552000, 1),
  /** Admins without a second factor may sign in only to enrol one (src/auth/second-factor.ts). */
  ADMIN_REQUIRE_2FA: bool(false),
  /** The issuer an authenticator app shows beside the account (the otpauth:// URI's `issuer`). */
  TOTP_ISSUER: z.string().trim().min(1).max(64).regex(/^[^:]+$/, 'must not contain ":"').default('Switchboard'),
  REGISTER_PER_IP: int(20, 1),
  AUTH_ANOMALY_REFRESHES: int(30, 1),
  AUTH_ANOMALY_SECOND_FACTOR_FAILURES: int(5, 1),
  AUTH_ANOMALY_REUSE_BURST: int(5, 1),
  REGISTER_WINDOW: int(3600, 1),
  CONNECTS_PER_IP: int(60, 1),
  CONNECT_WINDOW: int(60, 1),
  PRESENCE_AWAY_AFTER: seconds(300),
  PRESENCE_TIMEOUT: seconds(90),
  PRESENCE_CHECK_INTERVAL: seconds(30),
  SESSION_PURGE_INTERVAL: seconds(3600),
  BUS_GIVE_UP_AFTER: seconds(31),
  // Each entry as a browser writes an Origin header (scheme://host[:port], lower case, no default port), so that comparing is exact.
  ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const list = v ? v.split(',').map((o) => o.trim()).filter(Boolean) : [];
      const origins: string[] = [];
      for (const entry of list) {
        const origin = originOf(entry);
        if (!origin) {
          ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not an origin (scheme://host[:port], no path)` });
          return z.NEVER;
        }
        origins.push(origin);
      }
      return origins.length ? origins : undefined;
    }),
  /** false: __schema and __type queries are refused (FORBIDDEN); __typename stays allowed. */
  INTROSPECTION: bool(true),
  ADMIN_USER: optionalString,
  ADMIN_PASS: z.string().min(8, 'must be at least 8 characters').optional(),
  MAX_QUERY_BYTES: int(100000, 1),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TLS_CERT: optionalString,
  TLS_KEY: optionalString,
  // ---- Sign-in through an OpenID Connect provider (src/auth/oidc.ts); all unset: off ----
  /** The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`). https, or http on a loopback host. */
  OIDC_ISSUER: url(['https', 'http']).refine((v) => v === undefined || v.startsWith('https:') || isLoopbackUrl(v), 'must be https (http only on a loopback host)'),
  OIDC_CLIENT_ID: optionalString,
  OIDC_CLIENT_SECRET: optionalString,
  OIDC_CLIENT_SECRET_FILE: optionalString,
  /** Link a first sign-in to the existing account with the same email, when the provider says the email is verified. */
  OIDC_LINK_BY_EMAIL: bool(false),
  /** The callback URL registered at the provider (`https://<public host>/auth/oidc/callback`); unset: this server's own origin as the request reached it. */
  OIDC_REDIRECT_URL: url(['https', 'http']).refine(
    (v) => v === undefined || (new URL(v).pathname.endsWith(OidcPaths.callback) && !new URL(v).search && !new URL(v).hash),
    `must end with ${OidcPaths.callback} (a proxy may put a path before it), without query or fragment`,
  ),
  /** The provider's name on the sign-in button; unset: the issuer's host name. */
  OIDC_PROVIDER_NAME: z.string().trim().min(1).max(40).optional(),
  /** Sign-ins one address may start per 600 s (how long a started one is kept): each keeps a small record in shared state until used. */
  OIDC_STARTS_PER_IP: int(60, 1),
  /** Scopes asked for; `openid` is required. */
  OIDC_SCOPES: z
    .string()
    .default('openid email profile')
    .refine((v) => v.split(/\s+/).includes('openid'), 'must include openid'),
  // DPoP (RFC 9449), src/auth/dpop.ts: sender-constrained tokens.
  /** true: every access token must be bound to a key (DPoP); Bearer tokens, and login or refresh without a proof, are refused. */
  DPOP_REQUIRED: bool(false),
  /** Seconds a DPoP proof is accepted after its `iat` (and its jti remembered, to refuse replays). */
  DPOP_PROOF_WINDOW: int(60, 1).pipe(z.number().max(600, 'must be at most 600')),
});

export type Config = z.infer<typeof schema>;

/** Where Redis is, when it is used: one node, a Sentinel-watched primary, or a Cluster. */
export type RedisTopology =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: { host: string; port: number }[]; masterName: string }
  | { mode: 'cluster'; nodes: { host: string; port: number }[] };

/** The Redis the configuration names, or undefined (in-process bus and state). */
export function redisTopology(config: Config): RedisTopology | undefined {
  if (config.REDIS_URL) return { mode: 'single', url: config.REDIS_URL };
  if (config.REDIS_SENTINELS) return { mode: 'sentinel', sentinels: config.REDIS_SENTINELS, masterName: config.REDIS_MASTER_NAME! };
  if (config.REDIS_CLUSTER_NODES) return { mode: 'cluster', nodes: config.REDIS_CLUSTER_NODES };
  return undefined;
}

/** A bad configuration value; its message is one line naming the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the configuration from `env` (default: process.env). Empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0]);
    const value = input[name];
    const shown = value === undefined || /SECRET|PASS|^METRICS_TOKEN$/.test(name) ? '' : ` (got ${JSON.stringify(value)})`;
    throw new ConfigError(`invalid configuration: ${name}: ${issue.message}${shown}`);
  }
  const config = result.data;
  if ((config.TLS_CERT === undefined) !== (config.TLS_KEY === undefined)) {
    throw new ConfigError('invalid configuration: TLS_CERT and TLS_KEY must be set together');
  }
  const redisModes = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((name) => config[name] !== undefined);
  if (redisModes.length > 1) throw new ConfigError(`invalid configuration: ${redisModes.join(' and ')} name different Redis setups; set one of them`);
  if ((config.REDIS_SENTINELS === undefined) !== (config.REDIS_MASTER_NAME === undefined)) {
    throw new ConfigError('invalid configuration: REDIS_SENTINELS and REDIS_MASTER_NAME must be set together');
  }
  // ---- OIDC: the provider's settings go together ----
  const oidcSet = (['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_CLIENT_SECRET_FILE', 'OIDC_REDIRECT_URL'] as const).filter((name) => config[name] !== undefined);
  if (!config.OIDC_ISSUER && oidcSet.length > 0) throw new ConfigError(`invalid configuration: ${oidcSet[0]} is set but OIDC_ISSUER is not`);
  if (config.OIDC_ISSUER && !config.OIDC_CLIENT_ID) throw new ConfigError('invalid configuration: OIDC_CLIENT_ID is required with OIDC_ISSUER');
  if (config.OIDC_CLIENT_SECRET && config.OIDC_CLIENT_SECRET_FILE) throw new ConfigError('invalid configuration: OIDC_CLIENT_SECRET and OIDC_CLIENT_SECRET_FILE name one secret; set one of them');
  // ---- end OIDC ----
  // A key of the other algorithm is refused, not ignored: the operator who set it meant something else.
  const signingKeys = { HS256: ['JWT_SECRET', 'JWT_SECRET_FILE'], EdDSA: ['JWT_PRIVATE_KEY', 'JWT_PRIVATE_KEY_FILE'] } as const;
  const own = signingKeys[config.JWT_ALGORITHM];
  const wanted = own.join(' or ');
  const other = config.JWT_ALGORITHM === 'EdDSA' ? [...signingKeys.HS256, 'JWT_ACCEPTED_SECRETS_FILE' as const] : [...signingKeys.EdDSA, 'JWT_PUBLIC_KEYS_FILE' as const];
  const misplaced = other.find((name) => config[name] !== undefined);
  if (misplaced) {
    throw new ConfigError(`invalid configuration: ${misplaced} is not used with JWT_ALGORITHM=${config.JWT_ALGORITHM}; set ${wanted}`);
  }
  if (config.NODE_ENV === 'production' && !own.some((name) => config[name])) {
    throw new ConfigError(`invalid configuration: ${wanted} is required when NODE_ENV=production${config.JWT_ALGORITHM === 'EdDSA' ? ' and JWT_ALGORITHM=EdDSA' : ''}`);
  }
  return config;
}
