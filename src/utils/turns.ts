/**
 * Work in turns of the event loop. Writes: a socket written to stays corked
 * until the current turn ends, so that whatever is written to it in that
 * turn (events delivered back to back, commands issued by several requests
 * handled in one poll) leaves in one system call. On loopback a write costs
 * tens of microseconds of kernel time whatever its size. Reads: what is
 * asked of one key in a turn (by every subscriber an event reaches) is
 * answered by one read.
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

/** Lets what `socket` holds leave now (with what was just written to it), not when the turn ends. */
export function uncorkNow(socket: Socket): void {
  if (corked.delete(socket)) socket.uncork();
}

/**
 * Returns `ask`: what is asked of a key during the current turn is gathered,
 * and once the turn ends `answerAll` gets the key and all of it at once.
 */
export function gatherInTurn<K, W>(answerAll: (key: K, gathered: W[]) => void): (key: K, wait: W) => void {
  const open = new Map<K, W[]>();
  return (key, wait) => {
    const gathered = open.get(key);
    if (gathered) return void gathered.push(wait);
    const batch = [wait];
    open.set(key, batch);
    setImmediate(() => {
      open.delete(key);
      answerAll(key, batch);
    });
  };
}
