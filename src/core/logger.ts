/**
 * pino JSON logs. Secrets never reach a line: authorization headers,
 * cookies, passwords and tokens are censored wherever they sit (up to three
 * levels deep). Every line also goes to `logTap`, which the admin serverLog
 * subscription reads.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.ts';

export type { Logger };

const secretNames = ['authorization', 'cookie', '"set-cookie"', 'password', 'newPassword', 'passwordHash', 'token', 'accessToken', 'refreshToken', 'jwt', 'secret'];
export const redactedPaths = secretNames.flatMap((name) => [name, `*.${name}`, `*.*.${name}`, `*.*.*.${name}`]);

/** Emits 'line' with each log line's parsed object, already redacted. */
export const logTap = new EventEmitter();
logTap.setMaxListeners(0);

const tapStream = new Writable({
  write(chunk, _encoding, done) {
    if (logTap.listenerCount('line') > 0) {
      try {
        logTap.emit('line', JSON.parse(chunk.toString()));
      } catch {
        // A line pino wrote is always JSON; nothing to recover here.
      }
    }
    done();
  },
});

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, destination: DestinationStream = pino.destination(1)): Logger {
  return pino(
    {
      level: config.LOG_LEVEL,
      base: { pid: process.pid },
      redact: { paths: redactedPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream([{ stream: destination, level: 'trace' }, { stream: tapStream, level: 'trace' }]),
  );
}

