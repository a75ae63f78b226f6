/**
 * The server log's own stream, on the in-process bus and a real pino logger:
 * a reader slower than the log keeps only the newest lines (1,000 unless
 * told), in order, from its level up, and detaches at once on return().
 * Across instances and over GraphQL: metrics-log.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../src/adapters/bus.ts';
import { isHandsOff, eventStream } from '../../src/utils/event-stream.ts';
import { createLogger, logTap } from '../../src/core/logger.ts';
import { createServerLog, logLevels, type ServerLog } from '../../src/operations/server-log.ts';

const logger = createLogger({ LOG_LEVEL: 'trace' }, { write() {} });
let serverLog: ServerLog | undefined;
afterEach(() => {
  serverLog?.stop();
  serverLog = undefined;
});

const start = async () => (serverLog = await createServerLog({ bus: createMemoryBus(), instanceId: 'test-instance' }));
const messages = async (stream: AsyncIterator<{ message: string }>, count: number) => {
  const read: string[] = [];
  for (let i = 0; i < count; i++) read.push((await stream.next()).value.message);
  return read;
};

describe('serverLog streams', () => {
  it('keep the newest lines a slow reader has not read yet, in order, from its level up', async () => {
    const log = await start();
    const stream = log.stream({ minLevel: logLevels.info, buffer: 5 });
    for (let i = 0; i < 20; i++) {
      logger.info(`line ${i}`);
      logger.debug(`debug ${i}`);
    }
    expect(await messages(stream, 5)).toEqual(['line 15', 'line 16', 'line 17', 'line 18', 'line 19']);
    const waiting = stream.next();
    logger.debug('below the level');
    logger.warn('line 20');
    expect((await waiting).value.message).toBe('line 20');
    await stream.return!();
  });

  it('keep 1,000 lines unless told otherwise', async () => {
    const log = await start();
    const stream = log.stream({ minLevel: logLevels.info });
    for (let i = 0; i < 1005; i++) logger.info(`line ${i}`);
    expect(await messages(stream, 2)).toEqual(['line 5', 'line 6']);
    await stream.return!();
  });

  it('detach from the log at return(), even while a next() waits', async () => {
    const log = await start();
    const before = logTap.listenerCount('line');
    const stream = log.stream({ minLevel: logLevels.info });
    expect(logTap.listenerCount('line')).toBe(before + 1);
    const waiting = stream.next();
    await stream.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(logTap.listenerCount('line')).toBe(before);
    logger.info('after the end');
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });
});

describe('eventStream', () => {
  it('bounded, drops its oldest values past the bound and never hands off; unbounded, keeps all and may', async () => {
    let push!: (value: number) => void;
    const bounded = eventStream<number>((p) => ((push = p), () => {}), { keep: 3 });
    for (let i = 1; i <= 5; i++) push(i);
    expect([(await bounded.next()).value, (await bounded.next()).value, (await bounded.next()).value]).toEqual([3, 4, 5]);
    expect(isHandsOff(bounded)).toBe(false);

    const unbounded = eventStream<number>((p) => ((push = p), () => {}));
    for (let i = 1; i <= 5; i++) push(i);
    const all: number[] = [];
    for (let i = 0; i < 5; i++) all.push((await unbounded.next()).value);
    expect(all).toEqual([1, 2, 3, 4, 5]);
    expect(isHandsOff(unbounded)).toBe(true);
  });
});
