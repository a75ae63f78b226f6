/**
 * Start-up work that needs the database or Redis (restoring revoked
 * sessions, creating the admin): an outage at start must not stop the
 * server (it serves /healthz and reports itself unready), so such a task is
 * retried in the background until it succeeds. Any other failure still
 * stops the start.
 */
import { unavailableService } from '../plugins/error-masking.ts';
import type { Logger } from '../core/logger.ts';

export interface StartupTask {
  /** Stops retrying (at shutdown). */
  cancel(): void;
}

/**
 * Runs `task` now; if a backing service is unreachable, logs it and retries
 * every `retryMs` in the background.
 * @param retryMs Pause between attempts. @default 2000
 */
export async function runAtStart(logger: Logger, name: string, task: () => Promise<void>, retryMs = 2000): Promise<StartupTask> {
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const attempt = async (): Promise<void> => {
    try {
      await task();
    } catch (error) {
      const down = unavailableService(error);
      if (!down) throw error;
      logger.warn({ task: name, service: down }, 'start-up task waits for an unreachable service');
      if (!cancelled) {
        timer = setTimeout(() => void attempt().catch((e) => logger.error({ err: e, task: name }, 'start-up task failed')), retryMs);
        timer.unref();
      }
      return;
    }
    if (timer) logger.info({ task: name }, 'start-up task done');
  };
  await attempt();
  return {
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}
