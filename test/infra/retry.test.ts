/** Background retries (a publish after a commit, an access re-check): each failure logged, the last one handed to onGiveUp. */
import { describe, expect, it } from 'vitest';
import { retryInBackground, type RetryOptions } from '../../src/utils/retry.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const options = (logger: ReturnType<typeof recordingLogger>, onGiveUp?: () => void) => ({
  retries: 1,
  logger: logger.asLogger() as RetryOptions['logger'],
  context: { roomId: 'r1' },
  retrying: 'not yet; retrying',
  givingUp: 'giving up',
  onGiveUp,
});

describe('retryInBackground', () => {
  it('tries again after 1 s; after the last retry it logs an error and gives up, once', async () => {
    const logger = recordingLogger();
    let tries = 0;
    let gaveUp = 0;
    const given = new Promise<void>((resolve) =>
      retryInBackground(
        async () => {
          tries++;
          throw new Error(`refused\nattempt ${tries}`);
        },
        options(logger, () => (gaveUp++, resolve())),
      ),
    );
    expect(tries).toBe(1);
    await given;
    expect(tries).toBe(2);
    expect(gaveUp).toBe(1);
    expect(logger.lines).toEqual([
      { level: 'warn', fields: { roomId: 'r1', err: 'attempt 1' }, message: 'not yet; retrying' },
      { level: 'error', fields: { roomId: 'r1', err: 'attempt 2' }, message: 'giving up' },
    ]);
  });

  it('stops once the task succeeds: nothing more is tried or logged', async () => {
    const logger = recordingLogger();
    let tries = 0;
    let gaveUp = 0;
    const succeeded = new Promise<void>((resolve) =>
      retryInBackground(
        async () => {
          if (++tries === 1) throw new Error('not yet');
          resolve();
        },
        options(logger, () => gaveUp++),
      ),
    );
    await succeeded;
    // Past when a third try would come (2 s after the second) had the success not stopped it.
    await new Promise((resolve) => setTimeout(resolve, 2300));
    expect(tries).toBe(2);
    expect(gaveUp).toBe(0);
    expect(logger.lines.map((l) => l.level)).toEqual(['warn']);
  });

  it('gives up at giveUpAt, retries left or not: the try that would come after it is not made', async () => {
    const logger = recordingLogger();
    let tries = 0;
    const started = Date.now();
    const given = new Promise<void>((resolve) =>
      retryInBackground(
        async () => {
          tries++;
          throw new Error('refused');
        },
        // Tries at 0 and 1 s; the next would come at 3 s, past 2 s.
        { ...options(logger, resolve), retries: 5, giveUpAt: started + 2000 },
      ),
    );
    await given;
    expect(tries).toBe(2);
    expect(logger.lines.map((l) => l.level)).toEqual(['warn', 'error']);
  });

  it('waits at most maxDelayMs between tries', async () => {
    const logger = recordingLogger();
    let tries = 0;
    const given = new Promise<void>((resolve) =>
      retryInBackground(
        async () => {
          tries++;
          throw new Error('refused');
        },
        // Tries 200 ms apart: without the bound the sixth would come at 31 s.
        { ...options(logger, resolve), retries: 5, maxDelayMs: 200 },
      ),
    );
    await given;
    expect(tries).toBe(6);
    expect(logger.lines.map((l) => l.level)).toEqual(['warn', 'warn', 'warn', 'warn', 'warn', 'error']);
  });
});
