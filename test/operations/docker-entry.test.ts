/**
 * The container's start path without Docker: scripts/docker-entrypoint.sh
 * (the image's ENTRYPOINT) migrates a fresh PostgreSQL database, then
 * becomes the server, which answers the HEALTHCHECK script and stops on
 * SIGTERM. The Dockerfile and compose file are checked for the promised
 * shape (multi-stage, non-root, HEALTHCHECK, two instances on PostgreSQL and Redis).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { admin, testDatabaseUrl, testRedisPrefix, testRedisUrl } from '../helpers/env.ts';
import { signUp } from '../helpers/accounts.ts';
import { temporaryFolder } from '../helpers/server.ts';

const database = `switchboard_entry_${process.pid}`;
const databaseUrl = Object.assign(new URL(testDatabaseUrl), { pathname: `/${database}` }).toString();

afterAll(() => admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));

describe('docker entry path', () => {
  it('migrates a fresh database, serves, passes the HEALTHCHECK and exits 0 on SIGTERM', async () => {
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin(`CREATE DATABASE "${database}"`);
    const secretFile = path.join(temporaryFolder('switchboard-entry-'), 'jwt_secret');
    writeFileSync(secretFile, 'entry-test-secret-0123456789abcdefghijklmnopqrstuvwxyz');

    const child = spawn('scripts/docker-entrypoint.sh', [], {
      env: {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: path.dirname(secretFile),
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl,
        REDIS_PREFIX: testRedisPrefix,
        JWT_SECRET_FILE: secretFile,
        BCRYPT_COST: '4',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr!.on('data', (chunk) => (output += chunk));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in 60 s:\n${output}`)), 60_000);
      child.stdout!.on('data', (chunk) => {
        output += chunk;
        const match = /listening on (https?:\/\/\S+?)\/graphql/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
    });
    const exited = once(child, 'exit');

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const applied = await client.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL');
    await client.end();
    const committed = readdirSync('prisma/migrations', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(applied.rows.map((r) => r.migration_name).sort()).toEqual(committed.sort());

    const port = new URL(url).port;
    expect(spawnSync(process.execPath, ['scripts/healthcheck.mjs'], { env: { PATH: process.env.PATH!, PORT: port } }).status).toBe(0);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const account = await signUp({ graphqlUrl: `${url}/graphql` });
    expect(account.accessToken).toBeTruthy();

    // exec: the signal reaches node itself, not a shell in front of it.
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(spawnSync(process.execPath, ['scripts/healthcheck.mjs'], { env: { PATH: process.env.PATH!, PORT: port } }).status).toBe(1);
  });

  it('Dockerfile and compose.yaml have the promised shape', () => {
    accessSync('scripts/docker-entrypoint.sh', constants.X_OK);
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^RUN .*&& npm run build &&/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*scripts\/healthcheck\.mjs/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["scripts\/docker-entrypoint\.sh"\]$/m);
    expect(readFileSync('scripts/docker-entrypoint.sh', 'utf8')).toMatch(/npm run --silent db:migrate\nexec node dist\/src\/main\.js/);
    const compose = readFileSync('compose.yaml', 'utf8');
    for (const service of ['postgres', 'redis', 'switchboard-1', 'switchboard-2']) expect(compose).toMatch(new RegExp(`^  ${service}:$`, 'm'));
    expect(compose).toMatch(/DATABASE_URL: postgresql:\/\/.*@postgres:5432\//);
    expect(compose).toMatch(/REDIS_URL: redis:\/\/redis:6379/);
    expect(compose).toMatch(/JWT_SECRET_FILE: \/run\/secrets\/jwt_secret/);
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const entry of ['node_modules', '.git', 'data', 'secrets', 'dist']) expect(ignored).toContain(entry);
  });
});
