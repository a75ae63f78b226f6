/**
 * The allowed origins (src/plugins/origin.ts applies them to HTTP requests
 * and WebSocket upgrades): those of ALLOWED_ORIGINS, which only the
 * variable changes, and those admins add at run time, kept in PostgreSQL. A
 * change is told to every instance over the bus, which reads the list
 * again; so does an instance whose bus comes back after an outage.
 */
import type { Viewer } from '../context.ts';
import { isAdmin } from '../context.ts';
import type { Bus } from '../adapters/bus.ts';
import type { Database } from '../adapters/database.ts';
import type { Outbox } from '../adapters/outbox.ts';
import { Channels } from '../core/codes.ts';
import { originOf, type Config } from '../core/config.ts';
import { badInput, forbidden } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { recordAudit } from '../auth/audit.ts';
import { lastLineOf } from '../utils/error-text.ts';

export interface AllowedOrigins {
  /** The list this instance applies now; undefined while it is empty (same origin only). */
  current(): readonly string[] | undefined;
  /** Admins: the list, sorted. */
  list(admin: Viewer): Promise<string[]>;
  /** Admins: adds `origin` (normalised as a browser writes it); the list after. */
  add(admin: Viewer, origin: string, ip: string | null): Promise<string[]>;
  /** Admins: removes `origin` (not one of ALLOWED_ORIGINS: BAD_USER_INPUT); the list after (unchanged, and nothing audited or told, when it was not there). */
  remove(admin: Viewer, origin: string, ip: string | null): Promise<string[]>;
  stop(): void;
}

/** How often the list is tried again while the database does not answer at start. */
const retryMs = 5000;

/** Longest origin accepted; a longer string is not an origin anyone serves. */
const maxOriginLength = 2048;

function normalised(input: string): string {
  const origin = input.length <= maxOriginLength ? originOf(input.trim()) : null;
  if (!origin) throw badInput('origin', 'Not an origin: give scheme://host[:port], http or https, with no path.');
  return origin;
}

export async function createAllowedOrigins(deps: { db: Database; bus: Bus; outbox: Outbox; config: Config; logger: Logger }): Promise<AllowedOrigins> {
  const { db, bus, outbox, config, logger } = deps;
  const configured = new Set(config.ALLOWED_ORIGINS ?? []);
  let origins: readonly string[] = [];
  const read = async () => {
    const stored = (await db.allowedOrigin.findMany({ select: { origin: true } })).map((row) => row.origin);
    return [...new Set([...configured, ...stored])].sort();
  };
  const reload = () =>
    read().then(
      (list) => {
        origins = list;
        return true;
      },
      (error: unknown) => {
        logger.warn({ err: lastLineOf(error) }, 'allowed origins not read; the last list stays (ALLOWED_ORIGINS at least)');
        return false;
      },
    );
  origins = [...configured].sort();
  // A database that does not answer at start must not stop the start (it answers 503 on /readyz meanwhile):
  // the run-time origins are read once it does.
  let retry: ReturnType<typeof setTimeout> | undefined;
  const readUntilRead = async () => {
    if (!(await reload())) retry = setTimeout(() => void readUntilRead(), retryMs).unref();
  };
  await readUntilRead();
  const unsubscribe = await bus.subscribe(Channels.originsChanged, () => void reload());
  const stopResume = bus.onResume(() => void reload());

  const requireAdmin = (viewer: Viewer) => {
    if (!isAdmin(viewer)) throw forbidden('Only admins may manage the allowed origins.');
  };
  /** After a committed change (`count` rows): this instance reads the list at once, the others when the bus tells them; no change, no message. */
  const changed = async (count: number) => {
    if (count === 0) return read();
    outbox.send(Channels.originsChanged, {});
    origins = await read();
    return [...origins];
  };

  return {
    current: () => (origins.length > 0 ? origins : undefined),
    async list(admin) {
      requireAdmin(admin);
      return read();
    },
    async add(admin, input, ip) {
      requireAdmin(admin);
      const origin = normalised(input);
      const { count } = await db.allowedOrigin.createMany({ data: [{ origin, addedById: admin.userId }], skipDuplicates: true });
      if (count > 0) await recordAudit({ db, logger }, { kind: 'origin_added', userId: admin.userId, ip, detail: { origin } });
      return changed(count);
    },
    async remove(admin, input, ip) {
      requireAdmin(admin);
      const origin = normalised(input);
      if (configured.has(origin)) throw badInput('origin', `${origin} is in ALLOWED_ORIGINS: remove it there.`);
      const { count } = await db.allowedOrigin.deleteMany({ where: { origin } });
      if (count > 0) await recordAudit({ db, logger }, { kind: 'origin_removed', userId: admin.userId, ip, detail: { origin } });
      return changed(count);
    },
    stop() {
      clearTimeout(retry);
      stopResume();
      unsubscribe();
    },
  };
}
