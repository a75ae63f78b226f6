/**
 * Redis commands in turns (src/adapters/redis.ts, src/utils/turns.ts), seen on
 * the connection's own socket against a real Redis: what one turn of the
 * event loop asks waits in the corked socket and leaves when the turn ends;
 * a PUBLISH leaves at once, taking along what waited before it.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, waitUntilReady } from '../../src/adapters/redis.ts';
import { testRedisUrl } from '../helpers/env.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';
import { eventually } from '../helpers/server.ts';
import { keyPrefix } from '../../src/core/codes.ts';

describe('redis commands in turns', () => {
  let commands: Redis;
  let subscriber: Redis;
  const socket = () => commands.stream as Socket;

  beforeAll(async () => {
    const logger = recordingLogger().asLogger();
    commands = createRedis(testRedisUrl, 'commands', logger);
    subscriber = createRedis(testRedisUrl, 'subscriber', logger);
    await Promise.all([waitUntilReady(commands), waitUntilReady(subscriber)]);
  });
  afterAll(() => {
    commands.disconnect();
    subscriber.disconnect();
  });

  it('holds the commands of one turn in the socket until the turn ends', async () => {
    const key = `${keyPrefix()}test:${randomUUID()}`;
    const set = commands.set(key, 'a', 'EX', 60);
    const get = commands.get(key);
    expect(socket().writableCorked).toBeGreaterThan(0);
    expect(socket().writableLength).toBeGreaterThan(0);
    await expect(Promise.all([set, get])).resolves.toEqual(['OK', 'a']);
    expect(socket().writableCorked).toBe(0);
  });

  it('writes a PUBLISH at once, with what the turn asked before it', async () => {
    const channel = `${keyPrefix()}test:${randomUUID()}`;
    const heard: string[] = [];
    subscriber.on('message', (from: string, message: string) => from === channel && heard.push(message));
    await subscriber.subscribe(channel);
    const key = `${keyPrefix()}test:${randomUUID()}`;
    const set = commands.set(key, 'b', 'EX', 60);
    expect(socket().writableLength).toBeGreaterThan(0);
    const published = commands.publish(channel, 'hello');
    // Handed to the kernel within this turn: nothing corked, nothing left in the stream.
    expect(socket().writableCorked).toBe(0);
    expect(socket().writableLength).toBe(0);
    await expect(Promise.all([set, published])).resolves.toEqual(['OK', 1]);
    await eventually(() => heard.length > 0, 5000, 'the published message');
    expect(heard).toEqual(['hello']);
  });
});
