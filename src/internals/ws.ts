/**
 * ws's private parts, fenced here: the TCP socket under a WebSocket
 * (`_socket`) and its frame sender (`_sender.sendFrame`). Shared fan-out
 * writes one pre-built frame to hundreds of sockets through the sender
 * (src/realtime/frames.ts), and every write is corked until the turn ends
 * through the TCP socket (src/realtime/server-socket.ts); docs/performance.md
 * has the gains. When an upgrade of ws takes either away, both accessors
 * answer undefined and their callers use ws's public `send`; `problems()`
 * says so at start-up.
 */
import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket } from 'ws';

// ws exports its Sender class, but its typings do not say so.
const Sender = (wsModule as unknown as { Sender?: { prototype: unknown } }).Sender;

/** What `_sender` offers: a frame built by the caller, written as is. */
export interface FrameSender {
  sendFrame(list: Buffer[], cb?: (error?: Error) => void): void;
}

interface Private {
  _socket?: Socket;
  _sender?: Partial<FrameSender>;
}

/** The TCP socket under `socket`, or undefined when ws no longer keeps it where we read it. */
export function rawSocketOf(socket: WebSocket): Socket | undefined {
  const raw = (socket as unknown as Private)._socket;
  return raw && typeof raw.cork === 'function' ? raw : undefined;
}

/** The frame sender of `socket`, or undefined when ws no longer has one we can use. */
export function frameSenderOf(socket: WebSocket): FrameSender | undefined {
  const sender = (socket as unknown as Private)._sender;
  return typeof sender?.sendFrame === 'function' ? (sender as FrameSender) : undefined;
}

/** What of the above this version of ws lacks (checked on its classes at start-up; the accessors check each socket too). */
export function problems(): string[] {
  const found: string[] = [];
  if (typeof (Sender?.prototype as Partial<FrameSender> | undefined)?.sendFrame !== 'function') found.push('ws: Sender.prototype.sendFrame is gone: frames are written through WebSocket.send');
  if (typeof (WebSocket.prototype as unknown as { setSocket?: unknown }).setSocket !== 'function') found.push('ws: WebSocket.prototype.setSocket (which sets _socket) is gone: writes are no longer corked per turn');
  return found;
}
