/**
 * Node's timers wait at most 2^31 - 1 ms (about 24.8 days): a longer delay
 * fires at once (with a TimeoutOverflowWarning). A deadline further off,
 * such as a long-lived token's expiry, is reached in steps: a timer armed
 * with {@link delayUntil} that, when it fires before the deadline, arms the
 * next one.
 */
export const maxTimerDelay = 2 ** 31 - 1;

/** The delay to arm a timer with for a deadline at `atMs` (epoch ms): 0 once it has passed, at most {@link maxTimerDelay}. */
export const delayUntil = (atMs: number): number => Math.max(0, Math.min(atMs - Date.now(), maxTimerDelay));
