/**
 * graphql-ws's context, trimmed once a socket is admitted: it keeps the
 * upgrade request and the connection_init payload for the socket's whole
 * life, and we need neither after admission (about 1.4 KB per idle socket,
 * and no bearer token left in memory; docs/performance.md). The fields are
 * part of graphql-ws's typed context but read-only there; graphql-ws reads
 * neither after onConnect (checked by the suite: every subscription test
 * runs on trimmed contexts).
 */
import type { IncomingMessage } from 'node:http';

/** Lets go of the upgrade request and the init payload of an admitted socket's context. */
export function forgetUpgrade(ctx: { extra: { request: IncomingMessage }; connectionParams?: Readonly<Record<string, unknown>> }): void {
  (ctx.extra as { request: IncomingMessage | null }).request = null;
  (ctx as { connectionParams?: unknown }).connectionParams = undefined;
}
