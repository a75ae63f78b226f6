/** The configuration module, and what `npm start` does with a bad value. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redisTopology } from '../../src/core/config.ts';
import { serverEntry } from '../../scripts/build.ts';
import { temporaryFolder } from '../helpers/server.ts';

describe('loadConfig', () => {
  it('gives every default of the configuration table', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 4000,
      HOST: '127.0.0.1',
      DATA_DIR: './data',
      ACCESS_TOKEN_TTL: 900,
      REFRESH_TOKEN_TTL: 604800,
      BCRYPT_COST: 12,
      PASSWORD_QUEUE_MAX_WAIT: 10,
      SINGLE_SESSION: true,
      MAX_CONNECTIONS: 100,
      MAX_SOCKETS_PER_USER: 5,
      MAX_SUBSCRIPTIONS_PER_SOCKET: 100,
      MAX_SUBSCRIPTIONS_PER_USER: 200,
      SLOT_LEASE_TTL: 60,
      ROOM_MAX_MEMBERS: 500,
      ROOM_LIST_COUNT_INTERVAL: 1,
      MESSAGE_MAX_LENGTH: 4000,
      MESSAGE_RATE_PER_USER: 20,
      MESSAGE_RATE_PER_ROOM: 200,
      MESSAGE_RATE_WINDOW: 10,
      LOGIN_FAILURES_PER_ACCOUNT: 5,
      LOGIN_FAILURES_PER_IP: 50,
      LOGIN_FAILURE_WINDOW: 900,
      LOGIN_SLOWDOWN_MAX: 60,
      DEVICE_TOKEN_TTL: 15552000,
      REGISTER_PER_IP: 20,
      AUTH_ANOMALY_REFRESHES: 30,
      AUTH_ANOMALY_SECOND_FACTOR_FAILURES: 5,
      AUTH_ANOMALY_REUSE_BURST: 5,
      REGISTER_WINDOW: 3600,
      CONNECTS_PER_IP: 60,
      CONNECT_WINDOW: 60,
      PRESENCE_AWAY_AFTER: 300,
      PRESENCE_TIMEOUT: 90,
      PRESENCE_CHECK_INTERVAL: 30,
      SESSION_PURGE_INTERVAL: 3600,
      BUS_GIVE_UP_AFTER: 31,
      KEEPALIVE_INTERVAL: 12,
      MAX_QUERY_BYTES: 100000,
      LOG_LEVEL: 'info',
    });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.ALLOWED_ORIGINS).toBeUndefined();
    expect(c.METRICS_TOKEN).toBeUndefined();
    expect(c.INTROSPECTION).toBe(true);
  });

  it('writes ALLOWED_ORIGINS as browsers write an Origin, and refuses entries that are not origins', () => {
    expect(loadConfig({ ALLOWED_ORIGINS: 'HTTPS://App.Example:443/, http://b.test:8080' }).ALLOWED_ORIGINS).toEqual(['https://app.example', 'http://b.test:8080']);
    for (const bad of ['app.example', 'https://app.example/path', 'ftp://app.example', 'https://a.test, null', 'https://user@a.test']) {
      expect(() => loadConfig({ ALLOWED_ORIGINS: bad }), bad).toThrow(/^invalid configuration: ALLOWED_ORIGINS: .* is not an origin/);
    }
    expect(loadConfig({ INTROSPECTION: 'false' }).INTROSPECTION).toBe(false);
  });

  it('refuses sends for load past 0.1 s of waiting unless SEND_QUEUE_MAX_WAIT says otherwise (0: never), and refuses a value that is not a number of seconds from 0 to 60', () => {
    expect(loadConfig({}).SEND_QUEUE_MAX_WAIT).toBe(0.1);
    expect(loadConfig({ SEND_QUEUE_MAX_WAIT: '0.5' }).SEND_QUEUE_MAX_WAIT).toBe(0.5);
    expect(loadConfig({ SEND_QUEUE_MAX_WAIT: '0' }).SEND_QUEUE_MAX_WAIT).toBe(0);
    for (const bad of ['-1', 'soon', '61']) expect(() => loadConfig({ SEND_QUEUE_MAX_WAIT: bad }), bad).toThrow(/^invalid configuration: SEND_QUEUE_MAX_WAIT/);
  });

  it('reads the two-factor settings: ADMIN_REQUIRE_2FA off and TOTP_ISSUER "Switchboard" by default; an issuer with ":" is refused', () => {
    expect(loadConfig({})).toMatchObject({ ADMIN_REQUIRE_2FA: false, TOTP_ISSUER: 'Switchboard' });
    expect(loadConfig({ ADMIN_REQUIRE_2FA: 'true', TOTP_ISSUER: ' Acme Chat ' })).toMatchObject({ ADMIN_REQUIRE_2FA: true, TOTP_ISSUER: 'Acme Chat' });
    // The otpauth:// label is "issuer:account": a colon in the issuer would move the account name.
    expect(() => loadConfig({ TOTP_ISSUER: 'Acme:Chat' })).toThrow(/^invalid configuration: TOTP_ISSUER: must not contain ":"/);
    expect(() => loadConfig({ TOTP_ISSUER: 'x'.repeat(65) })).toThrow(/^invalid configuration: TOTP_ISSUER: /);
    expect(() => loadConfig({ ADMIN_REQUIRE_2FA: 'maybe' })).toThrow(/^invalid configuration: ADMIN_REQUIRE_2FA: /);
  });

  it('reads the DPoP settings: off with a 60 s proof window by default, the window 1 to 600 s', () => {
    expect(loadConfig({})).toMatchObject({ DPOP_REQUIRED: false, DPOP_PROOF_WINDOW: 60 });
    expect(loadConfig({ DPOP_REQUIRED: 'true', DPOP_PROOF_WINDOW: '30' })).toMatchObject({ DPOP_REQUIRED: true, DPOP_PROOF_WINDOW: 30 });
    for (const bad of ['0', '601', '1.5', 'soon']) expect(() => loadConfig({ DPOP_PROOF_WINDOW: bad }), bad).toThrow(/^invalid configuration: DPOP_PROOF_WINDOW: /);
    expect(() => loadConfig({ DPOP_REQUIRED: 'maybe' })).toThrow(/^invalid configuration: DPOP_REQUIRED: /);
  });

  it('parses numbers, booleans and lists', () => {
    const c = loadConfig({ MAX_CONNECTIONS: '7', SINGLE_SESSION: 'false', ALLOWED_ORIGINS: 'http://a.test, http://b.test', SLOT_LEASE_TTL: '1.5' });
    expect(c.MAX_CONNECTIONS).toBe(7);
    expect(c.SINGLE_SESSION).toBe(false);
    expect(c.ALLOWED_ORIGINS).toEqual(['http://a.test', 'http://b.test']);
    expect(c.SLOT_LEASE_TTL).toBe(1.5);
  });

  it.each([
    [{ MAX_CONNECTIONS: 'abc' }, /^invalid configuration: MAX_CONNECTIONS: .*"abc"/],
    [{ MAX_CONNECTIONS: '0' }, /^invalid configuration: MAX_CONNECTIONS: /],
    [{ MAX_SOCKET_BUFFER: '1024' }, /^invalid configuration: MAX_SOCKET_BUFFER: /],
    [{ MAX_SUBSCRIPTIONS_PER_SOCKET: '0' }, /^invalid configuration: MAX_SUBSCRIPTIONS_PER_SOCKET: /],
    [{ MAX_SUBSCRIPTIONS_PER_USER: 'many' }, /^invalid configuration: MAX_SUBSCRIPTIONS_PER_USER: .*\(got "many"\)$/],
    [{ SESSION_PURGE_INTERVAL: '0' }, /^invalid configuration: SESSION_PURGE_INTERVAL: /],
    // Longer than a timer waits: Node would run the purge every millisecond.
    [{ SESSION_PURGE_INTERVAL: '3000000' }, /^invalid configuration: SESSION_PURGE_INTERVAL: must be at most 2147483 /],
    [{ KEEPALIVE_INTERVAL: '0' }, /^invalid configuration: KEEPALIVE_INTERVAL: /],
    [{ BUS_GIVE_UP_AFTER: '0' }, /^invalid configuration: BUS_GIVE_UP_AFTER: /],
    [{ BUS_GIVE_UP_AFTER: 'never' }, /^invalid configuration: BUS_GIVE_UP_AFTER: .*\(got "never"\)$/],
    [{ ROOM_LIST_COUNT_INTERVAL: '0' }, /^invalid configuration: ROOM_LIST_COUNT_INTERVAL: /],
    [{ ROOM_LIST_COUNT_INTERVAL: 'soon' }, /^invalid configuration: ROOM_LIST_COUNT_INTERVAL: .*\(got "soon"\)$/],
    [{ PASSWORD_QUEUE_MAX_WAIT: '0' }, /^invalid configuration: PASSWORD_QUEUE_MAX_WAIT: /],
    [{ METRICS_TOKEN: 'short' }, /^invalid configuration: METRICS_TOKEN: must be at least 16/],
    [{ DATABASE_URL: 'not a url' }, /^invalid configuration: DATABASE_URL: /],
    [{ DATABASE_URL: 'mysql://x/y' }, /^invalid configuration: DATABASE_URL: must start with postgres/],
    [{ REDIS_URL: 'http://x' }, /^invalid configuration: REDIS_URL: /],
    [{ REDIS_SENTINELS: 'sentinel-a', REDIS_MASTER_NAME: 'main' }, /^invalid configuration: REDIS_SENTINELS: must be host:port items separated by commas/],
    [{ REDIS_SENTINELS: 'a:26379,b:99999', REDIS_MASTER_NAME: 'main' }, /^invalid configuration: REDIS_SENTINELS: ports must be 1 to 65535/],
    [{ REDIS_SENTINELS: ' , ', REDIS_MASTER_NAME: 'main' }, /^invalid configuration: REDIS_SENTINELS: must name at least one host:port/],
    [{ REDIS_SENTINELS: 'a:26379' }, /^invalid configuration: REDIS_SENTINELS and REDIS_MASTER_NAME must be set together$/],
    [{ REDIS_MASTER_NAME: 'main' }, /^invalid configuration: REDIS_SENTINELS and REDIS_MASTER_NAME must be set together$/],
    [{ REDIS_CLUSTER_NODES: 'a:7000,b' }, /^invalid configuration: REDIS_CLUSTER_NODES: must be host:port/],
    [{ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'a:7000' }, /^invalid configuration: REDIS_URL and REDIS_CLUSTER_NODES name different Redis setups; set one of them$/],
    [{ REDIS_SENTINELS: 'a:26379', REDIS_MASTER_NAME: 'main', REDIS_CLUSTER_NODES: 'a:7000' }, /^invalid configuration: REDIS_SENTINELS and REDIS_CLUSTER_NODES name different/],
    [{ PORT: '70000' }, /^invalid configuration: PORT: /],
    [{ SINGLE_SESSION: 'maybe' }, /^invalid configuration: SINGLE_SESSION: /],
    [{ LOG_LEVEL: 'loud' }, /^invalid configuration: LOG_LEVEL: /],
    [{ REDIS_PREFIX: 'sb:{a}:' }, /^invalid configuration: REDIS_PREFIX: must be 1 to 64 letters/],
    [{ JWT_SECRET: 'short' }, /^invalid configuration: JWT_SECRET: must be at least 32/],
    [{ TLS_CERT: '/x.pem' }, /TLS_CERT and TLS_KEY must be set together/],
    [{ NODE_ENV: 'production' }, /JWT_SECRET or JWT_SECRET_FILE is required when NODE_ENV=production/],
    [{ JWT_ALGORITHM: 'RS256' }, /^invalid configuration: JWT_ALGORITHM: .*\(got "RS256"\)$/],
    [{ JWT_ALGORITHM: 'EdDSA', NODE_ENV: 'production' }, /^invalid configuration: JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE is required when NODE_ENV=production and JWT_ALGORITHM=EdDSA$/],
    [{ JWT_ALGORITHM: 'EdDSA', JWT_SECRET: 'a-secret-long-enough-for-hs256-0123456789' }, /^invalid configuration: JWT_SECRET is not used with JWT_ALGORITHM=EdDSA; set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE$/],
    [{ JWT_SECRET_FILE: '/run/secrets/jwt', JWT_PRIVATE_KEY_FILE: '/run/secrets/ed25519.pem' }, /^invalid configuration: JWT_PRIVATE_KEY_FILE is not used with JWT_ALGORITHM=HS256; set JWT_SECRET or JWT_SECRET_FILE$/],
    [{ JWT_PUBLIC_KEYS_FILE: '/run/secrets/accepted.pem' }, /^invalid configuration: JWT_PUBLIC_KEYS_FILE is not used with JWT_ALGORITHM=HS256; set JWT_SECRET or JWT_SECRET_FILE$/],
    [{ JWT_ALGORITHM: 'EdDSA', JWT_ACCEPTED_SECRETS_FILE: '/run/secrets/accepted.txt' }, /^invalid configuration: JWT_ACCEPTED_SECRETS_FILE is not used with JWT_ALGORITHM=EdDSA; set JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE$/],
  ])('refuses %o with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('takes REDIS_PREFIX, sb: by default', () => {
    expect(loadConfig({}).REDIS_PREFIX).toBe('sb:');
    expect(loadConfig({ REDIS_PREFIX: 'tenant-a:' }).REDIS_PREFIX).toBe('tenant-a:');
  });

  it('reads each Redis setup: one node, Sentinel, Cluster', () => {
    expect(redisTopology(loadConfig({}))).toBeUndefined();
    expect(redisTopology(loadConfig({ REDIS_URL: 'redis://r:6379/0' }))).toEqual({ mode: 'single', url: 'redis://r:6379/0' });
    expect(redisTopology(loadConfig({ REDIS_SENTINELS: 's1:26379, s2:26380,[::1]:26381', REDIS_MASTER_NAME: 'main' }))).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'main',
    });
    expect(redisTopology(loadConfig({ REDIS_CLUSTER_NODES: 'c1:7000,c2:7001' }))).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'c1', port: 7000 },
        { host: 'c2', port: 7001 },
      ],
    });
  });

  it('never echoes a secret value', () => {
    expect(() => loadConfig({ JWT_SECRET: 'tiny-secret' })).toThrow(/^(?!.*tiny-secret)/);
  });

  it('stops `npm start` with that one line and no stack trace', () => {
    // `npm start` builds, then runs the compiled server; this runs that file (a second build here would race the other suites' servers).
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.prestart).toBe('npm run --silent build');
    expect(path.resolve(scripts.start!.replace(/^exec node /, ''))).toBe(serverEntry);
    const run = spawnSync(process.execPath, [serverEntry], {
      env: { ...process.env, MAX_CONNECTIONS: 'abc', DATABASE_URL: '', REDIS_URL: '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(/^invalid configuration: MAX_CONNECTIONS: [^\n]*$/);
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('loadConfig: sign-in through an OpenID Connect provider', () => {
  const issuer = { OIDC_ISSUER: 'https://id.example.test', OIDC_CLIENT_ID: 'switchboard' };

  it('is off by default, and keeps its defaults when on', () => {
    const off = loadConfig({});
    expect(off.OIDC_ISSUER).toBeUndefined();
    expect(loadConfig(issuer)).toMatchObject({ OIDC_LINK_BY_EMAIL: false, OIDC_SCOPES: 'openid email profile', OIDC_STARTS_PER_IP: 60 });
    expect(loadConfig({ ...issuer, OIDC_LINK_BY_EMAIL: 'true' }).OIDC_LINK_BY_EMAIL).toBe(true);
  });

  it('wants https, except on a loopback host', () => {
    for (const ok of ['https://id.example.test/realms/x', 'http://127.0.0.2:8080', 'http://localhost:9000', 'http://[::1]:9000']) {
      expect(loadConfig({ ...issuer, OIDC_ISSUER: ok }).OIDC_ISSUER, ok).toBe(ok);
    }
    for (const bad of ['http://id.example.test', 'ftp://id.example.test', 'id.example.test']) {
      expect(() => loadConfig({ ...issuer, OIDC_ISSUER: bad }), bad).toThrow(/^invalid configuration: OIDC_ISSUER: /);
    }
  });

  it('refuses settings that do not go together', () => {
    expect(() => loadConfig({ OIDC_CLIENT_ID: 'x' })).toThrow('invalid configuration: OIDC_CLIENT_ID is set but OIDC_ISSUER is not');
    expect(() => loadConfig({ OIDC_ISSUER: issuer.OIDC_ISSUER })).toThrow('invalid configuration: OIDC_CLIENT_ID is required with OIDC_ISSUER');
    expect(() => loadConfig({ ...issuer, OIDC_CLIENT_SECRET: 'a-secret', OIDC_CLIENT_SECRET_FILE: '/run/secrets/oidc' })).toThrow(/^invalid configuration: OIDC_CLIENT_SECRET and OIDC_CLIENT_SECRET_FILE name one secret/);
    expect(() => loadConfig({ ...issuer, OIDC_SCOPES: 'email profile' })).toThrow(/^invalid configuration: OIDC_SCOPES: must include openid/);
  });

  it('wants OIDC_REDIRECT_URL to name the callback route, behind a path prefix or not', () => {
    for (const ok of ['https://chat.example.test/auth/oidc/callback', 'https://example.test/chat/auth/oidc/callback']) {
      expect(loadConfig({ ...issuer, OIDC_REDIRECT_URL: ok }).OIDC_REDIRECT_URL).toBe(ok);
    }
    for (const bad of ['https://chat.example.test/', 'https://chat.example.test/auth/oidc/callback?x=1', 'https://chat.example.test/oidc']) {
      expect(() => loadConfig({ ...issuer, OIDC_REDIRECT_URL: bad }), bad).toThrow(/^invalid configuration: OIDC_REDIRECT_URL: must end with \/auth\/oidc\/callback/);
    }
  });

  it('never echoes the client secret', () => {
    expect(() => loadConfig({ ...issuer, OIDC_CLIENT_SECRET: 'the-oidc-secret', OIDC_CLIENT_SECRET_FILE: '/x' })).toThrow(/^(?!.*the-oidc-secret)/);
  });

  it('stops the start with one line when OIDC_CLIENT_SECRET_FILE cannot be read or holds nothing', () => {
    const folder = temporaryFolder('switchboard-oidc-secret-');
    const blank = path.join(folder, 'blank');
    writeFileSync(blank, '  \n');
    const cases: [string, RegExp][] = [
      [path.join(folder, 'absent'), /^invalid configuration: OIDC_CLIENT_SECRET_FILE: cannot read .*absent \(ENOENT\)$/],
      [blank, /^invalid configuration: OIDC_CLIENT_SECRET_FILE: .*blank is empty$/],
    ];
    for (const [file, message] of cases) {
      const run = spawnSync(process.execPath, [serverEntry], {
        env: { ...process.env, ...issuer, OIDC_CLIENT_SECRET_FILE: file, DATABASE_URL: '', REDIS_URL: '', PORT: '0', DATA_DIR: folder },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect([file, run.status]).toEqual([file, 1]);
      expect(run.stderr.trim()).toMatch(message);
    }
  });
});
