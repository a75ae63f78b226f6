/** A logger that keeps what it is told, for tests of code that reports through the logger (retries, the outbox). */
import type { Logger } from '../../src/core/logger.ts';

export interface RecordedLine {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

export function recordingLogger() {
  const lines: RecordedLine[] = [];
  const at = (level: RecordedLine['level']) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  const logger = { lines, info: at('info'), warn: at('warn'), error: at('error') };
  // Handed where a pino Logger is asked for: these three levels are all that the code under test uses (pino's overloads are wider).
  return Object.assign(logger, { asLogger: () => logger as unknown as Logger });
}
