/**
 * A raw graphql-transport-ws socket (the `ws` package, no graphql-ws
 * client) for tests that must send exactly what they choose: malformed
 * frames, protocol violations, oversized messages.
 */
import WebSocket from 'ws';

export interface RawSocket {
  ws: WebSocket;
  /** Every message the server sent, parsed (or as text when not JSON). */
  received: unknown[];
  /** Resolves with the close code and reason once the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  send(data: string | Buffer | object): void;
  /** Waits for a message matching `match` (rejects after `timeoutMs` or on close). */
  next(match: (message: any) => boolean, timeoutMs?: number): Promise<any>;
}

export async function openRawSocket(wsUrl: string, options: WebSocket.ClientOptions = {}): Promise<RawSocket> {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws', options);
  const received: unknown[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    try {
      received.push(isBinary ? text : JSON.parse(text));
    } catch {
      received.push(text);
    }
    for (const l of [...listeners]) l();
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const l of [...listeners]) l();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('close', (code) => reject(new Error(`closed before open: ${code}`)));
  });
  return {
    ws,
    received,
    closed,
    send(data) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
    },
    next(match, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < received.length; seen++) {
            if (match(received[seen])) {
              cleanup();
              resolve(received[seen]);
              return;
            }
          }
          if (ws.readyState === WebSocket.CLOSED) {
            cleanup();
            reject(new Error(`socket closed (${ws.readyState}); received ${JSON.stringify(received).slice(0, 500)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching message in ${timeoutMs} ms; received ${JSON.stringify(received).slice(0, 500)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** A raw socket past connection_init/ack with `token`. */
export async function openAckedSocket(wsUrl: string, token: string, options: WebSocket.ClientOptions = {}): Promise<RawSocket> {
  const socket = await openRawSocket(wsUrl, options);
  socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  await socket.next((m) => m?.type === 'connection_ack');
  return socket;
}
