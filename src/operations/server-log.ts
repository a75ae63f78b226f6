/**
 * The live server log behind the admin `serverLog` subscription: the pino
 * lines (already redacted by the logger) of every instance of the cluster,
 * filtered by level and turned into LogLine values. An instance's own lines
 * come straight from its `logTap`; the others' come over the bus, and only
 * while someone reads them: an instance with readers says so on the bus (at
 * once, then every few seconds, with the least level they want), and an
 * instance that heard it lately sends its lines from that level up. Sending
 * never logs (a failed send would make another line to send) and drops
 * lines past a bound still in flight, as a slow reader drops its oldest.
 */
import os from 'node:os';
import type { Bus } from '../adapters/bus.ts';
import { Channels } from '../core/codes.ts';
import { logTap } from '../core/logger.ts';
import { badInput } from '../core/errors.ts';
import { eventStream } from '../utils/event-stream.ts';

/** pino's level names and numbers. */
export const logLevels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
/** A pino level name. */
export type LogLevelName = keyof typeof logLevels;

/** One log line as the LogLine type shows it. */
export interface LogLine {
  at: Date;
  /** The instance that wrote it: host name and process id. */
  instance: string;
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

/** A pino line (parsed JSON) of `instance` as a LogLine. */
export function toLogLine(raw: Record<string, unknown>, instance: string): LogLine {
  const { level, time, msg, name, logger, pid: _pid, hostname: _hostname, ...rest } = raw;
  const levelNumber = typeof level === 'number' ? level : logLevels.info;
  const at = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  return {
    at: Number.isNaN(at.getTime()) ? new Date() : at,
    instance,
    level: levelNames.get(levelNumber) ?? (levelNumber >= logLevels.fatal ? 'fatal' : 'info'),
    logger: typeof logger === 'string' ? logger : typeof name === 'string' ? name : 'switchboard',
    message: typeof msg === 'string' ? msg : '',
    detail: Object.keys(rest).length ? rest : null,
  };
}

export interface LogStreamOptions {
  /** Least pino level number to pass on. */
  minLevel: number;
  /** Lines kept for a subscriber that reads slower than the cluster logs; older ones are dropped. @default 1000 */
  buffer?: number;
}

export interface ServerLog {
  /**
   * The cluster's log lines from now on, as an async iterator. A slow reader
   * loses the oldest buffered lines instead of growing memory. `return()`
   * detaches at once, even while a `next()` is waiting.
   */
  stream(options: LogStreamOptions): AsyncIterableIterator<LogLine>;
  /** Stops listening to the bus and sending lines (at shutdown). */
  stop(): void;
}

/** How often an instance with readers tells the others. */
const wantedEveryMs = 10_000;
/** How long an instance sends its lines after it last heard that someone reads them. */
const wantedForMs = 30_000;
/** Lines sent and not yet taken by the bus, past which new ones are dropped. */
const maxInFlight = 1000;

/** Someone on instance `from` reads the log from `minLevel` up; null: no one there any more. */
interface Wanted {
  from: string;
  minLevel: number | null;
}
interface SentLine {
  from: string;
  instance: string;
  line: Record<string, unknown>;
}
interface Reader {
  minLevel: number;
  take(line: LogLine): void;
}

const levelNumber = (line: LogLine) => logLevels[line.level];

export async function createServerLog(deps: { bus: Bus; instanceId: string }): Promise<ServerLog> {
  const { bus, instanceId } = deps;
  const instance = `${os.hostname()}/${process.pid}`;

  // Sending this instance's lines to the readers elsewhere.
  const wantedBy = new Map<string, { minLevel: number; until: number }>();
  let inFlight = 0;
  const sent = () => void inFlight--;
  const sendLevel = () => {
    let least = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const [from, wanted] of wantedBy) {
      if (wanted.until < now) wantedBy.delete(from);
      else least = Math.min(least, wanted.minLevel);
    }
    return least;
  };
  const send = (raw: Record<string, unknown>) => {
    const least = sendLevel();
    if (least === Number.POSITIVE_INFINITY) return void logTap.off('line', send);
    if (typeof raw.level !== 'number' || raw.level < least || inFlight >= maxInFlight) return;
    inFlight++;
    bus.publish<SentLine>(Channels.serverLogLines, { from: instanceId, instance, line: raw }).then(sent, sent);
  };
  const stopWanted = await bus.subscribe<Wanted>(Channels.serverLogWanted, ({ from, minLevel }) => {
    if (from === instanceId) return;
    if (minLevel === null) return void wantedBy.delete(from);
    wantedBy.set(from, { minLevel, until: Date.now() + wantedForMs });
    if (!logTap.listeners('line').includes(send)) logTap.on('line', send);
  });

  // Handing every instance's lines to the readers here.
  const readers = new Set<Reader>();
  const hand = (line: LogLine) => {
    for (const reader of readers) if (levelNumber(line) >= reader.minLevel) reader.take(line);
  };
  const local = (raw: Record<string, unknown>) => hand(toLogLine(raw, instance));
  const remote = (message: SentLine) => {
    if (message.from !== instanceId) hand(toLogLine(message.line, message.instance));
  };
  const tell = (minLevel: number | null) => void bus.publish<Wanted>(Channels.serverLogWanted, { from: instanceId, minLevel }).catch(() => {});
  const leastWanted = () => Math.min(...[...readers].map((reader) => reader.minLevel));
  let listening: Promise<() => void> | undefined;
  let telling: NodeJS.Timeout | undefined;

  const join = (reader: Reader) => {
    readers.add(reader);
    if (readers.size === 1) {
      logTap.on('line', local);
      // Told once the lines' channel is listened to, so that none sent in answer is missed.
      listening = bus.subscribe<SentLine>(Channels.serverLogLines, remote);
      void listening.then(() => readers.size > 0 && tell(leastWanted()), () => {});
      telling = setInterval(() => tell(leastWanted()), wantedEveryMs);
      telling.unref();
    } else tell(leastWanted());
  };
  const leave = (reader: Reader) => {
    if (!readers.delete(reader) || readers.size > 0) return;
    logTap.off('line', local);
    clearInterval(telling);
    void listening?.then((stop) => stop(), () => {});
    listening = undefined;
    tell(null);
  };

  return {
    stream({ minLevel, buffer = 1000 }) {
      return eventStream<LogLine>(
        (push) => {
          const reader: Reader = { minLevel, take: push };
          join(reader);
          return () => leave(reader);
        },
        { keep: buffer },
      );
    },
    stop() {
      stopWanted();
      logTap.off('line', send);
      for (const reader of [...readers]) leave(reader);
    },
  };
}
