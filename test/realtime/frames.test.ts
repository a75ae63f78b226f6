/**
 * `ServerSocket.send` (server-socket.ts) on a real ws server and client over loopback:
 * messages sent the way graphql-ws sends them (each after the previous
 * one's write callback) leave in one write per event-loop turn, in order;
 * past the socket's high-water mark a callback waits for the reader again.
 * `nextFrameWriter` frames its messages itself, except on a socket that
 * negotiated permessage-deflate, where ws frames (and compresses) them.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { nextFrameWriter } from '../../src/realtime/frames.ts';
import { ServerSocket } from '../../src/realtime/server-socket.ts';

let wss: WebSocketServer;
beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, WebSocket: ServerSocket });
  await once(wss, 'listening');
});
afterAll(() => new Promise((resolve) => wss.close(resolve)));

/** The server side of a fresh connection to `server`, and a client collecting its messages. */
async function connectTo(server: WebSocketServer, clientOptions: WebSocket.ClientOptions = {}) {
  const accepted = once(server, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`, clientOptions);
  const received: string[] = [];
  client.on('message', (data) => received.push(data.toString()));
  const [[socket]] = await Promise.all([accepted, once(client, 'open')]);
  return { socket, client, received };
}

/** A connected pair: the server's socket (a ServerSocket), its raw socket's flush count, and a client collecting messages. */
async function pair() {
  const { socket: server, client, received } = await connectTo(wss);
  // Each call of a stream's _write/_writev is one hand-over to the kernel.
  const raw = (server as unknown as { _socket: Socket })._socket as Socket & { _write: Function; _writev: Function };
  const flushes = { count: 0 };
  for (const method of ['_write', '_writev'] as const) {
    const original = raw[method].bind(raw);
    raw[method] = (...args: unknown[]) => (flushes.count++, original(...args));
  }
  return { server, client, raw, received, flushes };
}

/** Sends as graphql-ws does: the next message only once the previous one's callback came. */
async function sendInSequence(socket: WebSocket, messages: string[], sent: { count: number } = { count: 0 }) {
  for (const message of messages) {
    await new Promise<void>((resolve, reject) => socket.send(message, (error) => (error ? reject(error) : resolve())));
    sent.count++;
  }
}

describe('ServerSocket.send', () => {
  it('sends a query answer and its completion, or a short replay, in one write, in order', async () => {
    const { client, server, received, flushes } = await pair();
    const messages = Array.from({ length: 50 }, (_, i) => `{"id":"1","type":"next","payload":${i}}`);
    await sendInSequence(server, [...messages, '{"id":"1","type":"complete"}']);
    await expect.poll(() => received.length).toBe(51);
    expect(received).toEqual([...messages, '{"id":"1","type":"complete"}']);
    expect(flushes.count).toBe(1);
    client.terminate();
  });

  it("waits for the reader once the socket's buffer passes its high-water mark, and then delivers everything in order", async () => {
    const { client, server, received } = await pair();
    (client as unknown as { _socket: Socket })._socket.pause();
    const messages = Array.from({ length: 400 }, (_, i) => `${i}:${'x'.repeat(64 * 1024)}`);
    const sent = { count: 0 };
    const sending = sendInSequence(server, messages, sent);
    // 25 MB: more than loopback's kernel buffers hold while nobody reads.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sent.count).toBeLessThan(messages.length);
    (client as unknown as { _socket: Socket })._socket.resume();
    await sending;
    await expect.poll(() => received.length, { timeout: 20_000 }).toBe(messages.length);
    expect(received.map((m) => m.slice(0, m.indexOf(':')))).toEqual(messages.map((_, i) => String(i)));
    client.terminate();
  }, 30_000);
});

describe('nextFrameWriter', () => {
  const payloads = ['{"data":{"n":1}}', `{"data":{"body":"${'é'.repeat(40_000)}"}}`, '{"data":{"n":3}}'];
  const expected = payloads.map((payload) => `{"id":"sub-1","type":"next","payload":${payload}}`);

  it('writes next messages of small and large payloads as whole, ordered text frames', async () => {
    const { socket, client, received } = await connectTo(wss, { perMessageDeflate: false });
    const write = nextFrameWriter(socket, 'sub-1', 10 * 1024 * 1024);
    for (const payload of payloads) write(payload);
    await expect.poll(() => received.length).toBe(3);
    expect(received).toEqual(expected);
    client.terminate();
  });

  it('on a socket that negotiated permessage-deflate, hands its messages to ws (which compresses in the background): they arrive after what graphql-ws sent before them', async () => {
    const deflating = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
    await once(deflating, 'listening');
    try {
      const { socket, client, received } = await connectTo(deflating);
      expect(socket.extensions).toContain('permessage-deflate');
      const write = nextFrameWriter(socket, 'sub-1', 10 * 1024 * 1024);
      // A message graphql-ws sent itself (a replay's last one), then the first ones written directly.
      const replayed = '{"id":"sub-1","type":"next","payload":{"data":{"n":0}}}';
      socket.send(replayed);
      for (const payload of payloads) write(payload);
      await expect.poll(() => received.length).toBe(4);
      expect(received).toEqual([replayed, ...expected]);
      client.terminate();
    } finally {
      await new Promise((resolve) => deflating.close(resolve));
    }
  });
});

