/**
 * The keys and secrets the configuration names, read by src/main.ts before
 * the rest of the server is loaded (about a second of CPU): one that cannot
 * be used stops the start at once, with one line naming its variable and
 * never the secret. A key generated for scaled mode lives in the database,
 * so it is read once the database is there (src/app.ts).
 */
import fs from 'node:fs/promises';
import { ConfigError, type Config } from '../core/config.ts';
import { hasConfiguredKey, loadSigningKey, type SigningKey } from './tokens.ts';

export interface StartupSecrets {
  /** The signing key, unless scaled mode shares a generated one through the database. */
  configuredKey?: SigningKey;
  /** The OIDC client's secret; none for a public client (PKCE only). */
  oidcClientSecret?: string;
}

export async function loadStartupSecrets(config: Config): Promise<StartupSecrets> {
  const sharedGeneratedKey = Boolean(config.DATABASE_URL) && !hasConfiguredKey(config);
  return {
    configuredKey: sharedGeneratedKey ? undefined : await loadSigningKey(config),
    oidcClientSecret: await loadClientSecret(config),
  };
}

/** The OIDC client's secret: OIDC_CLIENT_SECRET, else OIDC_CLIENT_SECRET_FILE's contents, else none (a public client, PKCE only). */
async function loadClientSecret(config: Pick<Config, 'OIDC_CLIENT_SECRET' | 'OIDC_CLIENT_SECRET_FILE'>): Promise<string | undefined> {
  if (config.OIDC_CLIENT_SECRET) return config.OIDC_CLIENT_SECRET;
  if (!config.OIDC_CLIENT_SECRET_FILE) return undefined;
  let text: string;
  try {
    text = await fs.readFile(config.OIDC_CLIENT_SECRET_FILE, 'utf8');
  } catch (error) {
    throw new ConfigError(`invalid configuration: OIDC_CLIENT_SECRET_FILE: cannot read ${config.OIDC_CLIENT_SECRET_FILE} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  const secret = text.trim();
  if (!secret) throw new ConfigError(`invalid configuration: OIDC_CLIENT_SECRET_FILE: ${config.OIDC_CLIENT_SECRET_FILE} is empty`);
  return secret;
}
