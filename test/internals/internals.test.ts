/**
 * The private parts of libraries that src/internals/ fences in are still
 * there in the installed versions, and work: each test fails when an
 * upgrade changes what the module relies on (then see its module's header
 * for the fallback and the README for what is lost).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { libraryInternalsMissing } from '../../src/internals/index.ts';
import { frameSenderOf, rawSocketOf } from '../../src/internals/ws.ts';
import { wrapCommands } from '../../src/internals/ioredis.ts';
import { forgetUpgrade } from '../../src/internals/graphql-ws.ts';
import { loadSchemaEngine } from '../../src/internals/prisma-schema-engine.ts';
import { testRedisUrl } from '../helpers/env.ts';

const closers: Array<() => unknown> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('library internals', () => {
  it('nothing is missing at start-up', () => {
    expect(libraryInternalsMissing()).toEqual([]);
  });

  it("ws: a server socket's TCP socket and frame sender are reachable, and a frame written through the sender arrives as a message", async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    closers.push(() => new Promise((r) => http.close(r)), () => wss.close());
    const port = (http.address() as { port: number }).port;
    const accepted = once(wss, 'connection');
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    closers.push(() => client.terminate());
    const [server] = (await accepted) as [WebSocket];
    expect(rawSocketOf(server)).toBeInstanceOf(Socket);
    const sender = frameSenderOf(server);
    expect(sender).toBeDefined();
    const received = once(client, 'message');
    const text = Buffer.from('hello');
    // A final text frame, unmasked (server to client), payload length 5.
    sender!.sendFrame([Buffer.from([0x81, text.length]), text]);
    expect(String((await received)[0])).toBe('hello');
  });

  it('ioredis: commands pass through the wrapper with the connection socket, and still answer', async () => {
    const redis = new Redis(testRedisUrl);
    closers.push(() => redis.quit());
    await redis.ping();
    const seen: string[] = [];
    expect(wrapCommands(redis, { before: (socket, command) => seen.push(`${socket instanceof Socket}:${command.name}`), after: () => undefined })).toBe(true);
    expect(await redis.echo('through')).toBe('through');
    expect(seen).toContain('true:echo');
  });

  it("graphql-ws: an admitted context lets go of its request and init payload", () => {
    const ctx = { extra: { request: { headers: {} } as never }, connectionParams: { authorization: 'Bearer secret' } };
    forgetUpgrade(ctx);
    expect(ctx.extra.request).toBeNull();
    expect(ctx.connectionParams).toBeUndefined();
  });

  it("Prisma's schema engine (wasm) starts through its generated entry points", async () => {
    const engine = await loadSchemaEngine();
    expect(typeof engine.SchemaEngine.new).toBe('function');
  });
});
