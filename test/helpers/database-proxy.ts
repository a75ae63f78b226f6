/**
 * A TCP proxy to PostgreSQL on its own loopback port, for tests that need
 * to cut the database off (stopping it cuts every connection, as a database
 * going down does) or to see how many statements the server runs: it reads
 * the frontend messages passing through and counts each statement executed
 * (a Bind of the extended protocol, a simple Query).
 */
import { once } from 'node:events';
import net from 'node:net';

export interface DatabaseProxy {
  port: number;
  /** The database URL through this proxy. */
  url: string;
  /** Statements the server has executed through the proxy so far. */
  readonly statements: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Counts Bind ('B') and Query ('Q') messages in a frontend stream; the startup message has no type byte. */
function statementCounter(onStatement: () => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  let started = false;
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const header = started ? 5 : 4;
      if (pending.length < header) return;
      const length = started ? pending.readInt32BE(1) + 1 : pending.readInt32BE(0);
      if (pending.length < length) return;
      if (started && (pending[0] === 0x42 || pending[0] === 0x51)) onStatement();
      started = true;
      pending = pending.subarray(length);
    }
  };
}

export async function startDatabaseProxy(databaseUrl: string): Promise<DatabaseProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let statements = 0;
  const proxy: DatabaseProxy = {
    port: 0,
    get url() {
      return Object.assign(new URL(databaseUrl), { host: `127.0.0.1:${proxy.port}` }).toString();
    },
    get statements() {
      return statements;
    },
    async start() {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => sockets.delete(s));
        }
        client.on('data', statementCounter(() => statements++));
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(proxy.port, '127.0.0.1');
      await once(server, 'listening');
      proxy.port = (server.address() as net.AddressInfo).port;
    },
    async stop() {
      const closed = new Promise((resolve) => server?.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
  await proxy.start();
  return proxy;
}
