/**
 * The foundation's promises that need a signed-in user: a graphql-ws client
 * reaches connection_ack in both modes, the embedded database keeps its data
 * across a restart, SIGTERM closes live sockets with 1001, and `npm start`
 * itself (the README's second command) builds and serves the embedded default.
 * And the test helper's own promise: a start that fails leaves no process behind.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectSocket, copyOfProject, embeddedDataDir, gql, scaledEnv, startServer, stopAllServers, type TestServer, temporaryFolder } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';

afterAll(stopAllServers);

/** A signed-in user's graphql-ws socket is acknowledged; stopping the server (SIGTERM) closes it with 1001, and the process exits 0. */
async function acknowledgesThenClosesOnStop(server: TestServer): Promise<void> {
  const user = await signUp(server);
  const socket = connectSocket(server, { authorization: `Bearer ${user.accessToken}` });
  await socket.acked;
  const stopped = server.stop();
  expect((await socket.closed).code).toBe(1001);
  expect(await stopped).toBe(0);
}

describe.each([
  ['embedded', () => ({})],
  ['scaled', scaledEnv],
] as [string, () => Record<string, string>][])('%s mode', (_mode, env) => {
  it('acknowledges an authenticated graphql-ws connection on /graphql, and SIGTERM closes it with 1001', async () => {
    await acknowledgesThenClosesOnStop(await startServer(env()));
  }, 60_000);
});

describe('embedded database', () => {
  it('keeps its data across a restart', async () => {
    // From the migrated template: a first start on an empty folder is the npm start test's below.
    const dataDir = embeddedDataDir('switchboard-persist-');
    const first = await startServer({ DATA_DIR: dataDir });
    const user = await signUp(first);
    expect(await first.stop()).toBe(0);

    const second = await startServer({ DATA_DIR: dataDir });
    const login = await gql(second, 'mutation($input: LoginInput!) { login(input: $input) { user { id username } } }', {
      input: { login: user.username, password: user.password },
    });
    expect(login.errors).toBeUndefined();
    expect(login.data.login.user).toEqual({ id: user.id, username: user.username });
  }, 90_000);
});

describe('npm start', () => {
  it('on a clone with no build, builds the server, then serves the embedded default; SIGTERM to npm reaches the server, which closes its sockets with 1001 and exits 0', async () => {
    const clone = copyOfProject();
    expect(existsSync(path.join(clone, 'dist'))).toBe(false);
    const server = await startServer({}, { npmStartIn: clone });
    expect(existsSync(path.join(clone, 'dist/src/main.js'))).toBe(true);
    expect(server.logs.join('\n')).toContain('"mode":"embedded"');
    // Stopped as a process manager stops it: npm alone is signalled (a server left behind would keep its sockets and seats).
    await acknowledgesThenClosesOnStop(server);
  }, 90_000);
});

/** Whether process `pid` still runs (a zombie, dead but not yet reaped, does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('a start that never listens', () => {
  it('is killed, and the error names it and carries its last output', async () => {
    // A database that accepts connections and never answers: the server waits on it, never listening.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const failure = await startServer({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/none`, REDIS_URL: scaledEnv().REDIS_URL }, { startTimeoutMs: 3000 }).catch((error: Error) => error);
      expect(String(failure)).toMatch(/server \(pid \d+\) did not start in 3 s; its last output:\n/);
      const pid = Number(/pid (\d+)/.exec(String(failure))![1]);
      expect(running(pid)).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 30_000);

  it('under npm start: npm and the process its script started are both killed', async () => {
    const project = temporaryFolder('switchboard-hangs-');
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'hangs', private: true, scripts: { start: 'node -e "console.log(\'script pid \' + process.pid); setInterval(() => {}, 1000)"' } }),
    );
    const failure = await startServer({}, { npmStartIn: project, startTimeoutMs: 3000 }).catch((error: Error) => error);
    expect(String(failure)).toMatch(/did not start in 3 s; its last output:\n(.|\n)*script pid \d+/);
    const npm = Number(/pid (\d+)\)/.exec(String(failure))![1]);
    const script = Number(/script pid (\d+)/.exec(String(failure))![1]);
    expect(running(npm)).toBe(false);
    expect(running(script)).toBe(false);
  }, 30_000);
});
