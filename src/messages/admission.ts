/**
 * Sends are refused, not queued, once this instance has more of them in
 * progress than it finishes in SEND_QUEUE_MAX_WAIT (0.1 s unless set; 0
 * queues them all). A new send is then answered RATE_LIMITED
 * (`reason: "overloaded"`, `retryAfter`) at once; it changes nothing and
 * spends none of the sender's limits. Over graphql-ws and HTTP the refusal comes
 * before GraphQL runs (send-refusal.ts), so that refusing costs
 * little next to storing: docs/performance.md has what it does under load.
 *
 * The bound is Little's law: sends in progress over sends finished per
 * second is how long a send now waits. It follows what the instance really
 * finishes, and never falls below {@link minInProgress}, so that a burst at a
 * quiet instance, or a few sends waiting on one locked room, refuse nothing.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../core/codes.ts';
import { appError } from '../core/errors.ts';
import { metrics } from '../core/metrics.ts';

export interface SendAdmission {
  /** Runs `send` now, or throws {@link overloaded} without running it. */
  run<T>(send: () => Promise<T>): Promise<T>;
  /**
   * Whether a send begun now would be refused: a caller that can answer with
   * {@link overloaded} before any other work does so (send-refusal.ts, which
   * then calls {@link countRefusal}), which is what keeps an instance that
   * refuses most of what it is offered from spending its time refusing.
   */
  refuses(): boolean;
}

/** Counts a send refused for load. */
export const countRefusal = () => metrics.rateLimitHits.inc({ kind: 'send-overload' });

/** What an overloaded instance answers a send, whichever path refuses it. */
export const overloaded = () => appError(ErrorCode.RATE_LIMITED, 'The server is busy; try again shortly.', { retryAfter: 1, reason: 'overloaded' });

/** Sends in progress that are never refused, whatever the rate. */
export const minInProgress = 256;
/** Sends finished per second are counted over this many slices of {@link sliceMs}. */
const slices = 4;
const sliceMs = 250;

/** @param maxWaitSeconds How long a new send may expect to wait behind those in progress (SEND_QUEUE_MAX_WAIT); 0: no bound. */
export function sendAdmission(maxWaitSeconds: number): SendAdmission {
  let inProgress = 0;
  /** Sends finished in each of the last slices, the current one last. */
  const finished = new Array<number>(slices).fill(0);
  let sliceStart = performance.now();

  function rotate(now: number): void {
    const passed = Math.min(slices, Math.floor((now - sliceStart) / sliceMs));
    if (passed === 0) return;
    finished.splice(0, passed);
    finished.push(...new Array<number>(passed).fill(0));
    sliceStart += passed * sliceMs;
    if (now - sliceStart >= sliceMs) sliceStart = now;
  }

  function refuses(): boolean {
    if (maxWaitSeconds === 0) return false;
    rotate(performance.now());
    const perSecond = finished.reduce((sum, n) => sum + n, 0) / ((slices * sliceMs) / 1000);
    return inProgress >= Math.max(minInProgress, perSecond * maxWaitSeconds);
  }

  return {
    refuses,
    async run(send) {
      if (refuses()) {
        countRefusal();
        throw overloaded();
      }
      inProgress++;
      metrics.sendsInProgress.inc();
      try {
        return await send();
      } finally {
        inProgress--;
        metrics.sendsInProgress.dec();
        rotate(performance.now());
        finished[slices - 1]!++;
      }
    },
  };
}
