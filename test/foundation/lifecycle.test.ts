/**
 * The foundation's promises that need a signed-in user: a graphql-ws client
 * reaches connection_ack in both modes, the embedded database keeps its data
 * across a restart, SIGTERM closes live sockets with 1001, and `npm start`
 * itself (the README's second command) builds and serves the embedded default.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectSocket, copyOfProject, gql, scaledEnv, startServer, stopAllServers, type TestServer, temporaryFolder } from '../helpers/server.ts';
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
    const dataDir = temporaryFolder('switchboard-persist-');
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
