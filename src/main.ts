/**
 * Starts Switchboard: reads the configuration and the keys it names (one
 * clear line and exit 1 when any is bad), builds the app and serves it until
 * SIGTERM or SIGINT. The rest of the server (a second of CPU to load) is
 * imported only once those are known to be good, so a bad setting is
 * reported at once.
 */
import { ConfigError, loadConfig } from './core/config.ts';
import { loadStartupSecrets } from './auth/startup-secrets.ts';

function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (error) {
  exitOnConfigError(error);
}

const secrets = await loadStartupSecrets(config).catch(exitOnConfigError);

const [{ createApp }, { useKeyPrefix }, { createLogger }, { metricsExposureWarning }, { createServer }, { libraryInternalsMissing }] = await Promise.all([
  import('./app.ts'),
  import('./core/codes.ts'),
  import('./core/logger.ts'),
  import('./plugins/metrics.ts'),
  import('./server.ts'),
  import('./internals/index.ts'),
]);
// Before anything names a Redis key or channel.
useKeyPrefix(config.REDIS_PREFIX);
const logger = createLogger(config);
// A library upgrade that took away a private part we use: the public API is used instead, slower (README).
for (const missing of libraryInternalsMissing()) logger.warn({ missing }, 'library internal missing; using the public API instead');
// A key generated for scaled mode is read here, from the database; one that cannot be used is a bad configuration too.
const app = await createApp(config, logger, secrets).catch(exitOnConfigError);
const server = createServer(app);
// Before the listening line, so that whoever watches the log for that line has seen the warning too.
const metricsWarning = metricsExposureWarning(config);
if (metricsWarning) logger.warn({ host: config.HOST }, metricsWarning);
const url = await server.listen();
logger.info({ url: `${url}/graphql`, mode: config.DATABASE_URL ? 'scaled' : 'embedded' }, `Switchboard listening on ${url}/graphql`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const deadline = setTimeout(() => {
    logger.error('shutdown took longer than 5 s; exiting');
    process.exit(1);
  }, 5000);
  deadline.unref();
  await server.close();
  logger.flush();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
