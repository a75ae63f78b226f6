/**
 * Builds the adapters the configuration asks for: the database (PostgreSQL
 * or embedded PGlite, migrated at start when embedded), the bus (and the
 * outbox in front of it) and the shared state (Redis or in-process).
 */
import { randomUUID } from 'node:crypto';
import { redisTopology, type Config } from '../core/config.ts';
import { createDatabaseAdapter, createPrismaClient, databaseReachable, type Database, type Sql } from './database.ts';
import { createMemoryBus, createRedisBus, type Bus } from './bus.ts';
import { createOutbox, type Outbox } from './outbox.ts';
import { createMemoryState, createRedisState, type SharedState } from './state.ts';
import { createRedis, waitUntilReady } from './redis.ts';
import { applyMigrations, committedMigrationNames } from './migrations.ts';
import type { Logger } from '../core/logger.ts';

export interface Infra {
  config: Config;
  logger: Logger;
  /** Unique per process: names this instance's sockets and leases. */
  instanceId: string;
  db: Database;
  /** The hot path's statements, straight through the driver. */
  sql: Sql;
  bus: Bus;
  /** Publishes what was committed, in order per channel, retried: see outbox.ts. */
  outbox: Outbox;
  state: SharedState;
  /** What is reachable right now, for /readyz. */
  readiness(): Promise<{ database: boolean; redis: boolean | null }>;
  close(): Promise<void>;
}

/** How long closing waits for the outbox to empty. */
const outboxFlushMs = 2000;

export async function createInfra(config: Config, logger: Logger): Promise<Infra> {
  const database = await createDatabaseAdapter(config);
  if (database.embedded) {
    // Loading the schema engine takes seconds: only when something is pending.
    const done = new Set(await database.appliedMigrations());
    if ((await committedMigrationNames()).some((name) => !done.has(name))) {
      const applied = await applyMigrations(database.adapter);
      logger.info({ applied }, 'embedded database migrated');
    }
  }
  const db = createPrismaClient(database.adapter);

  let bus: Bus;
  let state: SharedState;
  const topology = redisTopology(config);
  if (topology) {
    const commands = createRedis(topology, 'commands', logger);
    const subscriber = createRedis(topology, 'subscriber', logger);
    // The subscriber too: a SUBSCRIBE sent before its ready check answers makes that check fail
    // ("only subscriber commands"), and the reconnect that follows drops the subscription.
    const [commandsReady] = await Promise.all([waitUntilReady(commands), waitUntilReady(subscriber)]);
    if (!commandsReady) logger.warn('redis not reachable at start; serving and retrying');
    state = createRedisState(commands);
    bus = createRedisBus(commands, subscriber);
  } else {
    state = createMemoryState();
    bus = createMemoryBus();
  }

  const outbox = createOutbox(bus, logger, { giveUpAfterMs: config.BUS_GIVE_UP_AFTER * 1000 });
  return {
    config,
    logger,
    instanceId: randomUUID(),
    db,
    sql: database.sql,
    bus,
    outbox,
    state,
    async readiness() {
      const [databaseUp, redisUp] = await Promise.all([databaseReachable(db), topology ? state.ping() : Promise.resolve(null)]);
      return { database: databaseUp, redis: redisUp };
    },
    async close() {
      // What was committed goes out if the bus takes it now; shutdown does not wait out a bus that is down.
      await Promise.race([outbox.drained(), new Promise((resolve) => setTimeout(resolve, outboxFlushMs).unref())]);
      await bus.close();
      await state.close();
      await db.$disconnect();
      await database.close();
    },
  };
}
