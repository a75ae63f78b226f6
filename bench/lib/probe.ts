/**
 * Preloaded (--import) into every measured server, ours and the baselines,
 * so all are measured alike: answers `sample` over the IPC channel with RSS,
 * heap and event-loop delay since the last reset. (CPU time is read from
 * /proc by the load client, bench/lib/process.ts: an answer here waits for
 * the server's event loop.)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();

export interface Sample {
  id: number;
  rssBytes: number;
  /** JavaScript heap in use (after the collections when `gc` was asked): steadier than RSS, which moves with V8's heap sizing. */
  heapUsedBytes: number;
  /** Event-loop delay since the last reset, in milliseconds. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** Seconds since the process started. */
  uptimeSeconds: number;
}

process.on('message', (request: { id: number; gc?: boolean; resetLag?: boolean }) => {
  if (request.gc && globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
  const sample: Sample = {
    id: request.id,
    rssBytes: process.memoryUsage.rss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    lagP99Ms: delay.percentile(99) / 1e6,
    lagMaxMs: delay.max / 1e6,
    uptimeSeconds: process.uptime(),
  };
  if (request.resetLag) delay.reset();
  process.send!(sample);
});
