/**
 * Baseline: Socket.IO with rooms, WebSocket transport only; with REDIS_URL
 * set, @socket.io/redis-adapter makes several instances one. Events:
 * `join` (room, ack) and `publish` (room, body) → `msg` (body) to the room.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';

const httpServer = createServer();
const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
if (process.env.REDIS_URL) {
  const pub = new Redis(process.env.REDIS_URL);
  io.adapter(createAdapter(pub, pub.duplicate()));
}

io.on('connection', (socket) => {
  socket.on('join', (room: string, ack: () => void) => {
    void socket.join(room);
    ack();
  });
  socket.on('publish', (room: string, body: string) => {
    io.to(room).emit('msg', body);
  });
});

httpServer.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
