/** Log lines never carry authorization headers, cookies, passwords or tokens. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, logTap } from '../../src/core/logger.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _e, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ LOG_LEVEL: 'info' }, stream as any) };
}

describe('logger', () => {
  it('writes JSON lines with level, time and message', () => {
    const { lines, logger } = capture();
    logger.info({ requestId: 'r1' }, 'hello');
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ level: 30, msg: 'hello', requestId: 'r1' });
    expect(typeof line.time).toBe('string');
  });

  it('redacts secrets wherever they sit', () => {
    const { lines, logger } = capture();
    const secrets = ['Bearer eyJsecret.jwt.value', 'sid=cookie-secret', 'hunter2-password', 'refresh-secret-token', 'access-secret-token', 'plain-token'];
    logger.info(
      {
        req: { headers: { authorization: secrets[0], cookie: secrets[1] } },
        password: secrets[2],
        variables: { input: { password: secrets[2], refreshToken: secrets[3] } },
        result: { accessToken: secrets[4] },
        connectionParams: { token: secrets[5], authorization: secrets[0] },
      },
      'request',
    );
    const text = lines.join('');
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });

  it('feeds the log tap with redacted lines', () => {
    const { logger } = capture();
    const seen: any[] = [];
    const listener = (line: any) => seen.push(line);
    logTap.on('line', listener);
    logger.warn({ password: 'tap-secret' }, 'tapped');
    logTap.off('line', listener);
    expect(seen.at(-1)).toMatchObject({ msg: 'tapped', password: '[redacted]' });
  });
});
