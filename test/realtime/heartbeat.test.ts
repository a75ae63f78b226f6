/**
 * The heartbeat (server-socket.ts): every KEEPALIVE_INTERVAL the server
 * pings each socket; one that has not answered the previous ping is
 * terminated and its seat released, while clients that answer (every
 * WebSocket client does unless told not to) stay connected.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeWithin, connectSocket, eventually, scaledEnv, seatsUsed, startServer, stopAllServers, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/accounts.ts';
import { flushTestRedis } from '../helpers/redis.ts';

afterAll(stopAllServers);


describe('heartbeat', () => {
  let server: TestServer;
  beforeAll(async () => {
    await flushTestRedis();
    server = await startServer({ ...scaledEnv(), KEEPALIVE_INTERVAL: '1' });
  });

  it('terminates a socket that stops answering pings, and releases its seat', async () => {
    const user = await signUp(server);
    // A client that never answers a ping: its peer, or the network to it, is gone.
    const silent = new WebSocket(server.wsUrl, 'graphql-transport-ws', { autoPong: false });
    // Counted from the start: with a beat a second, the first ping can come before the seat is read.
    let pings = 0;
    silent.on('ping', () => pings++);
    await once(silent, 'open');
    silent.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${user.accessToken}` } }));
    const [ack] = (await once(silent, 'message')) as [Buffer];
    expect(JSON.parse(String(ack))).toEqual({ type: 'connection_ack' });
    expect(await seatsUsed(server)).toBe(1);

    // Pinged at the next beat, terminated at the one after: 1-2 intervals.
    const [code] = (await once(silent, 'close')) as [number];
    expect(code).toBe(1006);
    expect(pings).toBeGreaterThanOrEqual(1);
    await eventually(async () => (await seatsUsed(server)) === 0, 5000, 'the silent socket to free its seat');
  });

  it('keeps a socket that answers its pings, beat after beat', async () => {
    const user = await signUp(server);
    const socket = connectSocket(server, { authorization: `Bearer ${user.accessToken}` });
    await socket.acked;
    expect(await closeWithin(socket, 3500)).toBe('still open');
    const answer = await new Promise<unknown>((resolve, reject) =>
      socket.client.subscribe({ query: '{ me { username } }' }, { next: resolve, error: reject, complete: () => {} }),
    );
    expect(answer).toEqual({ data: { me: { username: user.username } } });
    await socket.client.dispose();
  });
});
