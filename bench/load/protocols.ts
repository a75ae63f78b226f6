/**
 * The load client's side of each protocol, all on the same `ws` client so
 * that every server is driven by the same logic: open a socket, join a
 * room, publish bodies, and hand every frame that carries a body (`b|…`)
 * to the scenario. Minimal on purpose: the client shares the machine.
 */
import WebSocket from 'ws';

export interface Connection {
  /** Starts receiving the room's messages (frames go to `onFrame`). */
  join(room: string): Promise<void>;
  publish(room: string, body: string): void;
  onFrame: (frame: string) => void;
  /** A send the server refused (overloaded, rate limited), by the body it carried; only where the protocol answers sends. */
  onRefused?: (body: string) => void;
  close(): void;
}

export interface Protocol {
  name: string;
  /** Opens a socket; resolves once the server has accepted it (authenticated where there is auth). */
  connect(port: number, token?: string): Promise<Connection>;
}

const carriesBody = (frame: string) => frame.includes('b|');

/** Opens a socket whose frames go to `onMessage` from the first one (a server may speak in the same packet as the handshake). */
function open(url: string, onMessage: (frame: string, socket: WebSocket) => void, protocol?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocol, { perMessageDeflate: false });
    socket.on('message', (data) => onMessage(data.toString(), socket));
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', (code) => reject(new Error(`closed with ${code} before open`)));
  });
}

/** bench/servers/raw-ws.ts */
export const rawWs: Protocol = {
  name: 'raw ws',
  async connect(port) {
    let joined: (() => void) | undefined;
    const socket = await open(`ws://127.0.0.1:${port}/`, (frame) => {
      if (frame === 'joined') joined?.();
      else connection.onFrame(frame);
    });
    const connection: Connection = {
      onFrame: () => {},
      join(room) {
        return new Promise((resolve) => {
          joined = resolve;
          socket.send(`join:${room}`);
        });
      },
      publish: (room, body) => socket.send(`pub:${room}:${body}`),
      close: () => socket.terminate(),
    };
    return connection;
  },
};

/**
 * Socket.IO's wire protocol (Engine.IO 4 over WebSocket): open `0`, connect `40` (with the token as its
 * auth payload where there is one), refused `44`, ping `2`/pong `3`, event `42`, ack `43`.
 */
export const socketIo: Protocol = socketIoNamed('socket.io');

export function socketIoNamed(name: string): Protocol {
  return {
    name,
    async connect(port, token) {
      const acks = new Map<number, (frame: string) => void>();
      let nextAck = 1;
      let connected!: () => void;
      let refused!: (error: Error) => void;
      const ready = new Promise<void>((resolve, reject) => ((connected = resolve), (refused = reject)));
      const socket: WebSocket = await open(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, (frame, socket) => {
        if (carriesBody(frame)) connection.onFrame(frame);
        else if (frame === '2') socket.send('3');
        else if (frame.startsWith('0')) socket.send(token ? `40${JSON.stringify({ token })}` : '40');
        else if (frame.startsWith('40')) connected();
        else if (frame.startsWith('44')) refused(new Error(`${name}: connect refused: ${frame.slice(2)}`));
        else if (frame.startsWith('43')) {
          const id = Number.parseInt(frame.slice(2), 10);
          acks.get(id)?.(frame);
          acks.delete(id);
        }
      });
      const connection: Connection = {
        onFrame: () => {},
        join(room) {
          return new Promise((resolve, reject) => {
            const id = nextAck++;
            // The guarded peer answers false to a room the user is not a member of.
            acks.set(id, (frame) => (frame.endsWith('[false]') ? reject(new Error(`${name}: not a member of ${room}`)) : resolve()));
            socket.send(`42${id}${JSON.stringify(['join', room])}`);
          });
        },
        publish: (room, body) => socket.send(`42${JSON.stringify(['publish', room, body])}`),
        close: () => socket.terminate(),
      };
      await ready;
      return connection;
    },
  };
}

/** graphql-ws (graphql-transport-ws) with the `roomMessages` / `sendMessage` fields both GraphQL servers serve. */
export function graphqlWs(name: string): Protocol {
  return {
    name,
    async connect(port, token) {
      let acknowledged!: () => void;
      const socket: WebSocket = await open(
        `ws://127.0.0.1:${port}/graphql`,
        (frame, socket) => {
          if (carriesBody(frame)) connection.onFrame(frame);
          else if (sending.size && frame.startsWith('{"id":"')) {
            // A send's answer: its result, then complete (or an error frame).
            const id = frame.slice(7, frame.indexOf('"', 7));
            const body = sending.get(id);
            if (body === undefined) return;
            if (frame.includes('"errors"') || frame.includes('"type":"error"')) connection.onRefused?.(body);
            if (!frame.includes('"type":"next"')) sending.delete(id);
          } else if (frame.includes('"connection_ack"')) acknowledged();
          else if (frame.includes('"type":"ping"')) socket.send('{"type":"pong"}');
        },
        'graphql-transport-ws',
      );
      let nextId = 0;
      /** Sends awaiting their answer: operation id -> body. */
      const sending = new Map<string, string>();
      const subscribe = (query: string, variables: Record<string, unknown>) => {
        const id = String(++nextId);
        socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
        return id;
      };
      const connection: Connection = {
        onFrame: () => {},
        async join(room) {
          void subscribe('subscription($room: ID!) { roomMessages(roomId: $room) { id body createdAt } }', { room });
        },
        publish: (room, body) => void sending.set(subscribe('mutation($room: ID!, $body: String!) { sendMessage(roomId: $room, body: $body) { id } }', { room, body }), body),
        close: () => socket.terminate(),
      };
      await new Promise<void>((resolve, reject) => {
        acknowledged = resolve;
        socket.once('close', (code, reason) => reject(new Error(`closed with ${code} ${reason}`)));
        socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { token } : {} }));
      });
      return connection;
    },
  };
}
