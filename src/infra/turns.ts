/**
 * Writes in turns: a socket written to stays corked until the event loop's
 * current turn ends, so that whatever is written to it in that turn (events
 * delivered back to back, commands issued by several requests handled in
 * one poll) leaves in one system call. On loopback a write costs tens of
 * microseconds of kernel time whatever its size.
 */
import type { Socket } from 'node:net';

const corked = new Set<Socket>();

function uncorkAll(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/** Corks `socket` until the event loop's current turn ends. */
export function corkUntilTurnEnds(socket: Socket): void {
  if (corked.has(socket)) return;
  if (corked.size === 0) setImmediate(uncorkAll);
  socket.cork();
  corked.add(socket);
}
