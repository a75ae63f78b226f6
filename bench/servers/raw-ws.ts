/**
 * Baseline: a raw `ws` broadcast server, the floor any WebSocket server
 * pays. `join:<room>` puts the socket in a room (answered `joined`);
 * `pub:<room>:<body>` sends <body> to every socket of the room.
 */
import { WebSocketServer, type WebSocket } from 'ws';

const rooms = new Map<string, Set<WebSocket>>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT), perMessageDeflate: false });

wss.on('connection', (socket) => {
  const joined = new Set<string>();
  socket.on('message', (data) => {
    const text = data.toString();
    if (text.startsWith('join:')) {
      const room = text.slice(5);
      if (!rooms.has(room)) rooms.set(room, new Set());
      rooms.get(room)!.add(socket);
      joined.add(room);
      socket.send('joined');
    } else if (text.startsWith('pub:')) {
      const at = text.indexOf(':', 4);
      const body = text.slice(at + 1);
      for (const member of rooms.get(text.slice(4, at)) ?? []) member.send(body);
    }
  });
  socket.on('close', () => {
    for (const room of joined) rooms.get(room)?.delete(socket);
  });
});

process.on('SIGTERM', () => process.exit(0));
