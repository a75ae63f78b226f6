/**
 * The class ws makes for every socket of the realtime server (the
 * WebSocketServer's `WebSocket` option). What each socket needs beyond ws
 * is written here once, on the prototype, rather than as closures patched
 * onto every socket: an idle socket's memory is mostly such per-socket
 * objects (the patches and graphql-ws's keep-alive timers held about
 * 0.6 KB per socket, measured in heap snapshots).
 *
 * - Protocol guard: messages only a server may send (connection_ack, next,
 *   error) arriving from a client are protocol faults. graphql-ws would
 *   throw on them, log to the console and close with 4500; the socket
 *   closes with 4400 ("Invalid message received") as for any other
 *   malformed message, and graphql-ws never sees them.
 * - Every close the server makes is counted by code
 *   (metrics.refusedConnections), whoever makes it.
 * - Sends in turns (see {@link ServerSocket.send}).
 * - Heartbeat: one timer for all sockets ({@link startHeartbeat}) instead
 *   of graphql-ws's two per socket.
 */
import type { Socket } from 'node:net';
import WebSocket, { type RawData, type WebSocketServer } from 'ws';
import { metrics } from '../core/metrics.ts';
import { corkUntilTurnEnds } from '../utils/turns.ts';
import { rawSocketOf } from '../internals/ws.ts';

const serverOnly = new Set(['connection_ack', 'next', 'error']);
/** Cheap pre-check so that ordinary messages are not parsed twice. */
const mayBeServerOnly = /"(connection_ack|next|error)"/;

function isServerOnly(data: RawData): boolean {
  const text = String(data);
  if (!mayBeServerOnly.test(text)) return false;
  try {
    const message = JSON.parse(text) as { type?: unknown } | null;
    return typeof message?.type === 'string' && serverOnly.has(message.type);
  } catch {
    return false;
  }
}

type Callback = (error?: Error) => void;
type Listener = (...args: any[]) => void;

function answered(this: WebSocket) {
  (this as ServerSocket).awaitingPong = false;
}

/** Heartbeats are spread over this many ticks per interval, so that no tick pings every socket at once. */
const heartbeatTicks = 12;
let socketsMade = 0;

export class ServerSocket extends WebSocket {
  /** Set by a heartbeat's ping, cleared by the pong that answers it. */
  awaitingPong = false;
  /** The tick of each interval at which this socket's heartbeat comes. */
  readonly heartbeatTick = socketsMade++ % heartbeatTicks;
  private closeCounted = false;

  // ws's server makes its sockets with (null, undefined, options).
  constructor(...args: any[]) {
    super(...(args as [null]));
    super.on('pong', answered);
  }

  /** The TCP socket under the WebSocket (src/internals/ws.ts). */
  private get raw(): Socket | undefined {
    return rawSocketOf(this);
  }

  override close(code?: number, reason?: string | Buffer): void {
    if (!this.closeCounted && code !== undefined && this.readyState === this.OPEN) {
      this.closeCounted = true;
      metrics.refusedConnections.inc({ code: String(code) });
    }
    super.close(code, reason);
  }

  override on(event: string | symbol, listener: Listener): this {
    if (event !== 'message') return super.on(event, listener);
    return super.on('message', (data: RawData, isBinary: boolean) => {
      if (isServerOnly(data)) this.close(4400, 'Invalid message received');
      else listener.call(this, data, isBinary);
    });
  }

  /**
   * Answers the callback at once while the socket's buffer is below its
   * high-water mark, and keeps the socket corked until the turn ends.
   * graphql-ws waits for each message's write callback before it sends the
   * next one (a query's `next`, then `complete`; a replay's messages one by
   * one), so without this each leaves in its own system call, one
   * event-loop turn apart. ws keeps a socket's messages in order whatever
   * the callback; past the high-water mark the callback waits for the
   * write again, so a long replay to a slow reader is paced by the reader.
   */
  override send(data: any, optionsOrCallback?: object | Callback, callback?: Callback): void {
    const options = typeof optionsOrCallback === 'function' ? {} : (optionsOrCallback ?? {});
    const done = typeof optionsOrCallback === 'function' ? (optionsOrCallback as Callback) : callback;
    const raw = this.raw;
    if (raw) corkUntilTurnEnds(raw);
    if (!raw || !done || raw.writableLength >= raw.writableHighWaterMark) return super.send(data, options, done);
    super.send(data, options);
    queueMicrotask(() => done());
  }

  /** One heartbeat: closes the socket if the previous ping went unanswered, else pings it. */
  beat(): void {
    if (this.readyState !== this.OPEN) return;
    if (this.awaitingPong) return this.terminate();
    this.awaitingPong = true;
    this.ping();
  }
}

/**
 * Pings every socket of `wss` once each `intervalMs`; a socket that has not
 * answered the previous ping by the next one is terminated (its client or
 * the network is gone), between one and two intervals after it went quiet.
 * The sockets take turns over the interval: ten thousand pings written in
 * one go would hold the event loop (and every delivery) for tens of ms.
 * Returns a function that stops it.
 */
export function startHeartbeat(wss: WebSocketServer, intervalMs: number): () => void {
  let tick = 0;
  const timer = setInterval(() => {
    tick = (tick + 1) % heartbeatTicks;
    for (const socket of wss.clients) if ((socket as ServerSocket).heartbeatTick === tick) (socket as ServerSocket).beat();
  }, intervalMs / heartbeatTicks);
  timer.unref();
  return () => clearInterval(timer);
}
