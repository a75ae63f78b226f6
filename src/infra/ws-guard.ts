/**
 * A guard in front of graphql-ws's `useServer`: messages only a server may
 * send (connection_ack, next, error) arriving from a client are protocol
 * faults. graphql-ws would throw on them, log to the console and close with
 * 4500; the guard closes with 4400 ("Invalid message received"), as for any
 * other malformed message, and the server never sees them. It also counts
 * every close the server makes, by code (metrics.refusedConnections),
 * whoever makes it: graphql-ws, the realtime server or this guard.
 */
import type { WebSocketServer, WebSocket, RawData } from 'ws';
import { metrics } from './metrics.ts';

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

type MessageListener = (data: RawData, isBinary: boolean) => void;

/** `wss` as `useServer` should see it: each socket's message listeners skip, and close on, server-only messages. */
export function guardProtocol(wss: WebSocketServer): WebSocketServer {
  return new Proxy(wss, {
    get(target, property) {
      if (property !== 'on') {
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (event: string, listener: (...args: any[]) => void) => {
        if (event !== 'connection') return target.on(event, listener);
        return target.on('connection', (socket: WebSocket, ...rest: unknown[]) => {
          const close = socket.close.bind(socket);
          let counted = false;
          socket.close = ((code?: number, reason?: string | Buffer) => {
            if (!counted && code !== undefined && socket.readyState === socket.OPEN) {
              counted = true;
              metrics.refusedConnections.inc({ code: String(code) });
            }
            close(code, reason);
          }) as WebSocket['close'];
          const on = socket.on.bind(socket) as (event: string, listener: (...args: any[]) => void) => WebSocket;
          socket.on = ((name: string, handler: (...args: any[]) => void) =>
            name === 'message'
              ? on('message', ((data, isBinary) => {
                  if (isServerOnly(data)) socket.close(4400, 'Invalid message received');
                  else (handler as MessageListener)(data, isBinary);
                }) as MessageListener)
              : on(name, handler)) as WebSocket['on'];
          listener(socket, ...rest);
        });
      };
    },
  });
}
