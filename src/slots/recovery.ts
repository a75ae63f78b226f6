/**
 * Redis coming back without its keys (restarted without persistence,
 * flushed, failed over to an empty replica): the seats, socket counts,
 * presence and revocation records that every instance wrote are gone, while
 * the sockets stay open. Admitting on that empty count would let in users
 * past the cap, so admissions wait until each instance has put back what it
 * holds.
 *
 * The shared state carries an epoch (Keys.stateEpoch), written when
 * missing. An instance notices a loss when the epoch it knew is gone or
 * changed: at once when its connection to Redis is ready again, within a
 * second otherwise (a poll), and at any admission (the admission script
 * checks it, so none is ever made on a state this instance has not put its
 * seats back into). It then writes a new epoch, held for one renewal
 * interval plus a second, and runs the restorers (seats and socket counts,
 * presence, revocations: slots/service.ts, presence/service.ts, app.ts).
 * Every live instance notices the same loss within that hold (its seat
 * renewal alone would put its seats back), so when the hold ends the count
 * is whole. Re-registrations never check the cap: were they together past
 * it, nobody is closed and nobody admitted until it falls below.
 *
 * A starting instance finds no epoch on a first start as on a loss; it
 * opens at once only when no other instance listens on Redis
 * (Channels.instances) and Redis has been up longer than an instance takes
 * to reconnect ({@link settleMs}), else it waits that long before listening.
 */
import { randomUUID } from 'node:crypto';
import { Channels, Keys } from '../core/codes.ts';
import type { Infra } from '../adapters/infra.ts';
import { lastLineOf } from '../utils/error-text.ts';
import { claimEpoch } from './scripts.ts';

/**
 * The longest a live instance takes to be connected again once Redis
 * accepts connections: ioredis retries every 2 s at most (adapters/redis.ts),
 * then its ready check, with room for a late event loop.
 */
export const settleMs = 5000;

/** How often an instance reads the epoch when nothing else made it look (a flush does not drop connections). */
const pollMs = 1000;

export interface Recovery {
  /** The epoch whose seats this instance has put back, '' before that: an admission checks the state is still it. */
  readonly admissionEpoch: string;
  /** Milliseconds until admissions open (0 once open). */
  heldForMs(): number;
  /** Reads the epoch now and, after a loss, puts back what this instance holds. Never rejects. */
  check(): Promise<void>;
  /** Adds what this instance puts back after a loss; restorers run in the order added, each once per loss. */
  onLoss(restore: () => Promise<void>): () => void;
  /** Resolves once the state is whole: the epoch read, what this instance holds put back, and the hold over. */
  settled(): Promise<void>;
  stop(): void;
}

/** `holdMs`: how long admissions wait after a loss, at least the seat renewal interval (slots/service.ts). */
export async function createRecovery(infra: Pick<Infra, 'state' | 'bus' | 'logger'>, holdMs: number): Promise<Recovery> {
  const { state, bus, logger } = infra;
  const restorers: (() => Promise<void>)[] = [];
  let epoch = '';
  let restored = '';
  let openAt = 0;
  let checking: Promise<void> | undefined;

  const check = (): Promise<void> =>
    (checking ??= (async () => {
      try {
        const now = Date.now();
        const [current, until] = await state.run(claimEpoch, [Keys.stateEpoch], [randomUUID(), now, epoch, now + holdMs, now + settleMs, Channels.instances]);
        openAt = Number(until);
        // The first epoch read: nothing admitted before it, so nothing to put back.
        if (epoch === '') restored = current;
        else if (current !== epoch) logger.warn({ heldForMs: Math.max(0, openAt - now) }, 'redis lost its state: putting back seats, presence and revocations; admissions wait');
        epoch = current;
        if (restored === epoch) return;
        for (const restore of restorers) await restore();
        restored = epoch;
        logger.info({ heldForMs: Math.max(0, openAt - Date.now()) }, 'seats, presence and revocations put back');
      } catch (error) {
        // Tried again at the next poll, reconnection or admission.
        logger.warn({ err: lastLineOf(error) }, 'could not check the shared state for a loss');
      } finally {
        checking = undefined;
      }
    })());

  await check();
  // A start that may follow a loss: the instances that held seats have that long to put them back.
  const wait = openAt - Date.now();
  if (wait > 0 && wait <= settleMs) await new Promise((resolve) => setTimeout(resolve, wait));
  const unsubscribe = await bus.subscribe(Channels.instances, () => {});
  const stopReconnect = state.onReconnect(() => void check());
  const poll = state.kind === 'redis' ? setInterval(() => void check(), pollMs) : undefined;
  poll?.unref();

  return {
    get admissionEpoch() {
      return restored === epoch ? epoch : '';
    },
    heldForMs: () => Math.max(0, openAt - Date.now()),
    check,
    onLoss(restore) {
      restorers.push(restore);
      return () => void restorers.splice(restorers.indexOf(restore) >>> 0, 1);
    },
    async settled() {
      await check();
      for (let wait = openAt - Date.now(); wait > 0; wait = openAt - Date.now()) await new Promise((resolve) => setTimeout(resolve, wait));
    },
    stop() {
      clearInterval(poll);
      stopReconnect();
      unsubscribe();
    },
  };
}
