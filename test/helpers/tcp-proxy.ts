/**
 * A TCP proxy on its own loopback port, in front of PostgreSQL or Redis,
 * for tests that need to cut a service off (stopping the proxy cuts every
 * connection, as the service going down does), to see what passes (how
 * many statements the server runs), or to hold back what a service sends
 * on some connections (a bus that has stopped delivering).
 */
import { once } from 'node:events';
import net from 'node:net';

/** One client connection through the proxy. */
export interface ProxiedConnection {
  /** Set by a hook: while true, what the service sends to this client waits (in order) until `release()`. */
  held: boolean;
  /** Set by a hook: while true, what the client sends waits too (with `held`, a service that answers nothing and hears nothing). */
  frozen: boolean;
  /** Cuts this connection (both sides), as the service dying would. */
  drop(): void;
}

export interface ProxyHooks {
  /** Called for each client connection: what it returns sees every chunk that client sends, before it is passed on. */
  watch?(connection: ProxiedConnection): (chunk: Buffer) => void;
  /** Called once a chunk from the service has been passed on to the client. */
  passedOn?(connection: ProxiedConnection): void;
  /** Called with each chunk from the service that a held connection keeps back. */
  heldBack?(connection: ProxiedConnection, chunk: Buffer): void;
}

export interface TcpProxy {
  port: number;
  /** `url` with its host replaced by this proxy's. */
  via(url: string): string;
  /** Passes on what held (and frozen) connections were holding back, and holds nothing more. */
  release(): void;
  /** Starts accepting connections (again, on the same port). */
  start(): Promise<void>;
  /** Stops accepting connections, which are then refused; those open stay open. */
  pause(): void;
  stop(): Promise<void>;
}

export async function startTcpProxy(target: string, hooks: ProxyHooks = {}): Promise<TcpProxy> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<net.Socket>();
  const connections = new Set<ProxiedConnection>();
  const waiting = new Map<ProxiedConnection, () => void>();
  let server: net.Server | undefined;
  const proxy: TcpProxy = {
    port: 0,
    via: (url) => Object.assign(new URL(url), { host: `127.0.0.1:${proxy.port}` }).toString(),
    release() {
      for (const connection of connections) Object.assign(connection, { held: false, frozen: false });
      for (const flush of waiting.values()) flush();
      waiting.clear();
    },
    async start() {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(targetPort), hostname);
        const connection: ProxiedConnection = { held: false, frozen: false, drop: () => (client.destroy(), upstream.destroy()) };
        connections.add(connection);
        client.on('close', () => connections.delete(connection));
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => sockets.delete(s));
        }
        const watcher = hooks.watch?.(connection);
        const heldBack: Buffer[] = [];
        const frozenUp: Buffer[] = [];
        const flush = () => {
          frozenUp.splice(0).forEach((c) => upstream.write(c));
          heldBack.splice(0).forEach((c) => client.write(c));
        };
        client.on('data', (chunk: Buffer) => {
          watcher?.(chunk);
          if (client.destroyed) return;
          if (!connection.frozen) return void upstream.write(chunk);
          frozenUp.push(chunk);
          waiting.set(connection, flush);
        });
        upstream.on('data', (chunk: Buffer) => {
          if (!connection.held) {
            client.write(chunk);
            return void hooks.passedOn?.(connection);
          }
          heldBack.push(chunk);
          waiting.set(connection, flush);
          hooks.heldBack?.(connection, chunk);
        });
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(proxy.port, '127.0.0.1');
      await once(server, 'listening');
      proxy.port = (server.address() as net.AddressInfo).port;
    },
    pause() {
      server?.close();
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

/** Counts statements in PostgreSQL frontend messages: a Bind (extended protocol) or a Query; the startup message has no type byte. */
export function statementCounter(onStatement: () => void): (chunk: Buffer) => void {
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
