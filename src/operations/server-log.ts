/**
 * The live server log behind the admin `serverLog` subscription: this
 * instance's own pino lines (already redacted by the logger), read from
 * `logTap`, filtered by level and turned into LogLine values.
 */
import { logTap } from '../infra/logger.ts';
import { badInput } from '../infra/errors.ts';

/** pino's level names and numbers. */
export const logLevels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
/** A pino level name. */
export type LogLevelName = keyof typeof logLevels;

/** One log line as the LogLine type shows it. */
export interface LogLine {
  at: Date;
  level: LogLevelName;
  /** pino's `name` or a child logger's `logger` binding; 'switchboard' else. */
  logger: string;
  message: string;
  /** Every other field of the line (request id, user id, error...), or null. */
  detail: Record<string, unknown> | null;
}

const levelNames = new Map<number, LogLevelName>(Object.entries(logLevels).map(([name, n]) => [n, name as LogLevelName]));

/** The least level a subscriber receives; null or absent means info. Unknown names: BAD_USER_INPUT. */
export function parseLevel(level: string | null | undefined): number {
  if (level === null || level === undefined) return logLevels.info;
  const n = logLevels[level.toLowerCase() as LogLevelName];
  if (n === undefined) throw badInput('level', `level must be one of ${Object.keys(logLevels).join(', ')}.`);
  return n;
}

/** A pino line (parsed JSON) as a LogLine. */
export function toLogLine(raw: Record<string, unknown>): LogLine {
  const { level, time, msg, name, logger, pid: _pid, hostname: _hostname, ...rest } = raw;
  const levelNumber = typeof level === 'number' ? level : logLevels.info;
  const at = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  return {
    at: Number.isNaN(at.getTime()) ? new Date() : at,
    level: levelNames.get(levelNumber) ?? (levelNumber >= logLevels.fatal ? 'fatal' : 'info'),
    logger: typeof logger === 'string' ? logger : typeof name === 'string' ? name : 'switchboard',
    message: typeof msg === 'string' ? msg : '',
    detail: Object.keys(rest).length ? rest : null,
  };
}

export interface LogStreamOptions {
  /** Least pino level number to pass on. */
  minLevel: number;
  /** Lines kept for a subscriber that reads slower than the server logs; older ones are dropped. @default 1000 */
  buffer?: number;
}

/**
 * The log lines written from now on, as an async iterator. A slow reader
 * loses the oldest buffered lines instead of growing memory. `return()`
 * detaches at once, even while a `next()` is waiting.
 */
export function logStream(options: LogStreamOptions): AsyncIterableIterator<LogLine> {
  const limit = options.buffer ?? 1000;
  const queue: LogLine[] = [];
  let waiting: ((result: IteratorResult<LogLine>) => void) | null = null;
  let done = false;

  const onLine = (raw: Record<string, unknown>) => {
    if (typeof raw.level !== 'number' || raw.level < options.minLevel) return;
    const line = toLogLine(raw);
    if (waiting) {
      const resolve = waiting;
      waiting = null;
      resolve({ value: line, done: false });
      return;
    }
    queue.push(line);
    if (queue.length > limit) queue.shift();
  };
  logTap.on('line', onLine);

  const finish = (): IteratorResult<LogLine> => {
    if (!done) {
      done = true;
      logTap.off('line', onLine);
      queue.length = 0;
      waiting?.({ value: undefined, done: true });
      waiting = null;
    }
    return { value: undefined, done: true };
  };

  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => (waiting = resolve));
    },
    return: () => Promise.resolve(finish()),
    throw: (error?: unknown) => {
      finish();
      return Promise.reject(error);
    },
  };
}
