/**
 * frames.ts's `sendInTurns` on a real ws server and client over loopback:
 * messages sent the way graphql-ws sends them (each after the previous
 * one's write callback) leave in one write per event-loop turn, in order;
 * past the socket's high-water mark a callback waits for the reader again.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { sendInTurns } from '../../src/realtime/frames.ts';

let wss: WebSocketServer;
beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
});
afterAll(() => new Promise((resolve) => wss.close(resolve)));

/** A connected pair: the server's socket (with sendInTurns), its raw socket's flush count, and a client collecting messages. */
async function pair() {
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  const received: string[] = [];
  client.on('message', (data) => received.push(data.toString()));
  const [[server]] = await Promise.all([accepted, once(client, 'open')]);
  sendInTurns(server);
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

describe('sendInTurns', () => {
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
