/**
 * TLS for the one port: with TLS_CERT and TLS_KEY set the server speaks
 * https and wss; else plain http and ws (TLS ends at a proxy, or nowhere in
 * development).
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../core/config.ts';

/** What node:https needs to serve TLS, as PEM text. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/** A PEM given inline, or the contents of the file the value names. */
const pem = (value: string): string => (value.includes('-----BEGIN ') ? value : readFileSync(value, 'utf8'));

/** The certificate chain and private key (PEM text or file paths in the config), or null when TLS is off. */
export function loadTls(config: Pick<Config, 'TLS_CERT' | 'TLS_KEY'>): TlsMaterial | null {
  if (!config.TLS_CERT || !config.TLS_KEY) return null;
  return { cert: pem(config.TLS_CERT), key: pem(config.TLS_KEY) };
}
