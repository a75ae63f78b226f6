/**
 * Ended sessions, known to every instance within a second and checked on
 * every request without a database read: a bus message (through the
 * outbox: retried while Redis is away) that each instance copies into its
 * local set, plus a revoked-session key in shared state (kept as long as an
 * access token of that session may live). An instance that starts, or whose
 * bus reconnects, loads the keys, and the sessions the database says ended
 * (accounts.restoreRevocations): a key written while Redis was away is lost.
 * When Redis loses its state, each instance writes back the records of the
 * sessions it knows ended (`putBack`, run by slots/recovery.ts), so that an
 * instance that starts afterwards learns them from shared state as well as
 * from the database.
 */
import { Channels, Keys, sessionEndReasons, type SessionEndReason } from '../core/codes.ts';
import type { Infra } from '../adapters/infra.ts';
import { lastLineOf } from '../utils/error-text.ts';

export interface SessionEnded {
  sessionId: string;
  userId: string;
  reason: SessionEndReason;
}

/** What a listener learns of an ended session (the user is not known when it was learned from shared state). */
export type EndedSession = Pick<SessionEnded, 'sessionId' | 'reason'>;

const endReasons = new Set<string>(sessionEndReasons);

export interface Revocations {
  /** True when the session was ended (local set: synchronous, no I/O). */
  isRevoked(sessionId: string): boolean;
  /**
   * Ends sessions cluster-wide (already ended in the database): here at once,
   * elsewhere through the bus, and in shared state. A shared state that does
   * not answer is logged, not thrown: the end stands.
   */
  revoke(ended: SessionEnded[]): Promise<void>;
  /** Calls `listener` on this instance for every ended session, wherever it was ended (also those first learned by `reload`). */
  onSessionEnded(listener: (ended: EndedSession) => void): () => void;
  /** Reloads the revoked set from shared state (at start, after a bus outage) and tells listeners of sessions it did not know. */
  reload(): Promise<void>;
  /**
   * Re-records sessions that ended earlier (read from the database at start
   * and when the bus is back) in shared state and the local set, and tells
   * listeners of those this instance did not know (their sockets here close):
   * shared state may have lost them (in-process state after a restart, a
   * Redis without persistence, a key not written while Redis was away), and
   * their access tokens may still be unexpired.
   */
  restore(ended: { sessionId: string; endedAt: Date; reason: string | null }[]): Promise<void>;
  /** Writes every ended session this instance knows back into shared state, for as long as each has left (Redis lost its state). */
  putBack(): Promise<void>;
  stop(): void;
}

export async function createRevocations(infra: Pick<Infra, 'state' | 'bus' | 'outbox' | 'config' | 'logger'>): Promise<Revocations> {
  const { state, bus, outbox, config, logger } = infra;
  /** session id -> when its revocation record may be forgotten (ms), and why it ended. */
  const revoked = new Map<string, { until: number; reason: SessionEndReason }>();
  const listeners = new Set<(ended: EndedSession) => void>();
  const keepSeconds = config.ACCESS_TOKEN_TTL + 5;
  const prefix = Keys.revokedSession('');

  const remember = (sessionId: string, reason: SessionEndReason, until = Date.now() + keepSeconds * 1000) =>
    revoked.set(sessionId, { until: Math.max(until, revoked.get(sessionId)?.until ?? 0), reason: revoked.get(sessionId)?.reason ?? reason });
  const tell = (ended: EndedSession) => {
    for (const listener of listeners) listener(ended);
  };
  const reasonOf = (stored: string | null): SessionEndReason => (stored && endReasons.has(stored) ? (stored as SessionEndReason) : 'revoked');
  const unsubscribe = await bus.subscribe<SessionEnded>(Channels.sessionEnded, (ended) => {
    remember(ended.sessionId, ended.reason);
    tell(ended);
  });
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [sid, { until }] of revoked) if (until <= now) revoked.delete(sid);
  }, 60_000);
  sweep.unref();

  const revocations: Revocations = {
    isRevoked: (sessionId) => revoked.has(sessionId),
    async revoke(ended) {
      for (const e of ended) {
        remember(e.sessionId, e.reason);
        // Tried while an access token of the session may live: until then another instance would take it.
        outbox.send(Channels.sessionEnded, e, { sessionId: e.sessionId }, { giveUpAfterMs: keepSeconds * 1000 });
      }
      try {
        await Promise.all(ended.map((e) => state.set(Keys.revokedSession(e.sessionId), e.reason, keepSeconds)));
      } catch (error) {
        logger.warn({ err: lastLineOf(error), sessions: ended.length }, 'ended sessions not recorded in shared state; instances read them from the database when their bus is back');
      }
    },
    onSessionEnded(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async restore(ended) {
      const now = Date.now();
      const live = ended
        .map(({ sessionId, endedAt, reason }) => ({ sessionId, reason: reasonOf(reason), until: endedAt.getTime() + keepSeconds * 1000 }))
        .filter((e) => e.until > now);
      const learned = live.filter(({ sessionId }) => !revoked.has(sessionId));
      for (const { sessionId, reason, until } of live) remember(sessionId, reason, until);
      for (const { sessionId, reason } of learned) tell({ sessionId, reason });
      // With the reason the database kept: an instance that learns it from shared state closes its sockets with the right code.
      await Promise.all(live.map(({ sessionId, reason, until }) => state.set(Keys.revokedSession(sessionId), reason, (until - now) / 1000)));
    },
    async reload() {
      const learned = (await state.keysWithPrefix(prefix)).filter((key) => !revoked.has(key.slice(prefix.length)));
      // Refused at once; the reasons follow (read one by one).
      for (const key of learned) remember(key.slice(prefix.length), 'revoked');
      for (const key of learned) {
        const ended = { sessionId: key.slice(prefix.length), reason: reasonOf(await state.get(key)) };
        const entry = revoked.get(ended.sessionId);
        if (entry) entry.reason = ended.reason;
        // Its bus message was lost: this instance may still hold its sockets.
        tell(ended);
      }
    },
    async putBack() {
      const now = Date.now();
      const live = [...revoked].filter(([, { until }]) => until > now);
      await Promise.all(live.map(([sessionId, { until, reason }]) => state.set(Keys.revokedSession(sessionId), reason, (until - now) / 1000)));
    },
    stop() {
      clearInterval(sweep);
      unsubscribe();
      stopResume();
    },
  };
  const reload = () => revocations.reload().catch((error) => infra.logger.warn({ err: String(error) }, 'could not load revoked sessions'));
  // Sessions ended while the bus was down were recorded in shared state, but their messages are lost.
  const stopResume = bus.onResume(() => void reload());
  await reload();
  return revocations;
}
