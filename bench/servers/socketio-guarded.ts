/**
 * Baseline: Socket.IO with the guarantees Switchboard gives a message,
 * written straight on the drivers as a careful engineer would, with no
 * framework between: the JWT (Switchboard's, HS256, same secret) verified
 * at the handshake; room membership read once per room from PostgreSQL and
 * then checked in memory; the per-user and per-room limits in one Redis
 * script, all or nothing; one prepared PostgreSQL statement (pg) that
 * numbers the message in its room and stores it; the room's messages
 * stored and emitted one after another (per-room order); emit to the room;
 * with two instances, @socket.io/redis-adapter. Same database and tables as
 * Switchboard, same limits (the bench raises both), same body.
 *
 * Events: `join` (room id, ack) and `publish` (room id, body) → `msg`
 * (body) to the room; a refused send is answered with an `error` event.
 */
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createVerifier } from 'fast-jwt';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const verify = createVerifier({ key: env('JWT_SECRET'), algorithms: ['HS256'], cache: false });
const perUser = Number(process.env.MESSAGE_RATE_PER_USER ?? 20);
const perRoom = Number(process.env.MESSAGE_RATE_PER_ROOM ?? 200);
const windowMs = Number(process.env.MESSAGE_RATE_WINDOW ?? 10) * 1000;

const redis = new Redis(env('REDIS_URL'));
const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 10 });

/** Both limits in one step, all or nothing (the same rule as src/adapters/rate-limit.ts). */
redis.defineCommand('consumeBoth', {
  numberOfKeys: 2,
  lua: `
    for i, key in ipairs(KEYS) do
      if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then
        return math.max(redis.call('PTTL', key), 1)
      end
    end
    for i, key in ipairs(KEYS) do
      if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
    end
    return 0`,
});
const consumeBoth = (userId: string, roomId: string): Promise<number> =>
  (redis as unknown as { consumeBoth(...args: unknown[]): Promise<number> }).consumeBoth(`peer:rl:{m}:u:${userId}`, `peer:rl:{m}:r:${roomId}`, perUser, windowMs, perRoom, windowMs);

/** Numbers the message in its room and stores it: one statement, prepared once per connection. */
const insert = {
  name: 'peer.insert',
  text: `WITH r AS (UPDATE "Room" SET "lastSeq" = "lastSeq" + 1, "lastActivityAt" = $5::timestamp(3) WHERE "id" = $1::uuid RETURNING "id", "lastSeq")
INSERT INTO "Message" ("id", "roomId", "seq", "authorId", "body", "createdAt")
SELECT $2::uuid, r."id", r."lastSeq", $3::uuid, $4, $5::timestamp(3) FROM r RETURNING "seq"`,
};

/** Room id -> its members' ids, read once (the bench's rooms do not change while it runs). */
const members = new Map<string, Promise<Set<string>>>();
const membersOf = (roomId: string) => {
  let set = members.get(roomId);
  if (!set) {
    set = pool.query<{ userId: string }>('SELECT "userId" FROM "RoomMember" WHERE "roomId" = $1::uuid', [roomId]).then(({ rows }) => new Set(rows.map((r) => r.userId)));
    members.set(roomId, set);
  }
  return set;
};

/** Room id -> the tail of its sends: stored and emitted one after another, so every member sees the room's order. */
const tails = new Map<string, Promise<unknown>>();

const httpServer = createServer();
const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
if (process.env.INSTANCES && Number(process.env.INSTANCES) > 1) io.adapter(createAdapter(redis.duplicate(), redis.duplicate()));

io.use((socket, next) => {
  try {
    const { sub } = verify(String(socket.handshake.auth.token ?? socket.handshake.query.token ?? '')) as { sub?: unknown };
    if (typeof sub !== 'string') throw new Error('no subject');
    socket.data.userId = sub;
    next();
  } catch {
    next(new Error('UNAUTHENTICATED'));
  }
});

io.on('connection', (socket) => {
  const userId = socket.data.userId as string;
  socket.on('join', async (roomId: string, ack: (ok: boolean) => void) => {
    const ok = typeof roomId === 'string' && (await membersOf(roomId).catch(() => new Set<string>())).has(userId);
    if (ok) void socket.join(roomId);
    ack(ok);
  });
  socket.on('publish', async (roomId: string, body: string) => {
    if (typeof roomId !== 'string' || typeof body !== 'string' || body.length < 1 || body.length > 4000) return void socket.emit('error', 'BAD_USER_INPUT');
    try {
      if (!(await membersOf(roomId)).has(userId)) return void socket.emit('error', 'FORBIDDEN');
      const waitMs = await consumeBoth(userId, roomId);
      if (waitMs > 0) return void socket.emit('error', 'RATE_LIMITED', waitMs);
      const previous = tails.get(roomId) ?? Promise.resolve();
      const sent = previous.then(async () => {
        const { rows } = await pool.query({ ...insert, values: [roomId, randomUUID(), userId, body, new Date().toISOString()] });
        if (rows.length === 0) return void socket.emit('error', 'NOT_FOUND');
        io.to(roomId).emit('msg', body);
      });
      const tail = sent.catch(() => {});
      tails.set(roomId, tail);
      void tail.then(() => tails.get(roomId) === tail && tails.delete(roomId));
      await sent;
    } catch {
      socket.emit('error', 'INTERNAL_SERVER_ERROR');
    }
  });
});

httpServer.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
