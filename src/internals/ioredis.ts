/**
 * ioredis's `sendCommand` wrapped, fenced here: each command is handed to
 * `around` with the connection's socket first, so that src/adapters/redis.ts
 * can keep the socket corked until the event loop's turn ends (a storm of
 * handshakes then writes its Redis commands in one system call, not one
 * each; docs/performance.md has the gain). `sendCommand` and `stream` are
 * ioredis's own but not documented API; when either is missing the client
 * is left as it is and `problems()` says so at start-up.
 */
import type { Socket } from 'node:net';
import { Redis, type Command } from 'ioredis';

type SendCommand = Redis['sendCommand'];

/** Runs `send` (the command's own write) between `before` and `after`, on the connection's socket while it is writable. */
export interface AroundCommand {
  before(socket: Socket, command: Command): void;
  after(socket: Socket, command: Command): void;
}

/** Wraps `redis`'s command writes with `around`; a no-op (false) when this ioredis lacks what it needs. */
export function wrapCommands(redis: Redis, around: AroundCommand): boolean {
  if (problems().length > 0 || typeof redis.sendCommand !== 'function') return false;
  const send: SendCommand = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    const socket = redis.stream?.writable ? (redis.stream as Socket) : null;
    if (!socket) return send(command, stream);
    around.before(socket, command);
    const sent = send(command, stream);
    around.after(socket, command);
    return sent;
  };
  return true;
}

/** What of the above this version of ioredis lacks. */
export function problems(): string[] {
  return typeof Redis.prototype.sendCommand === 'function' ? [] : ['ioredis: Redis.prototype.sendCommand is gone: Redis commands are no longer written in turns'];
}
