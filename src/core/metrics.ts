/**
 * Prometheus metrics (prom-client): one registry per process and the named
 * metrics every domain increments (`import { metrics } from
 * '../core/metrics.ts'`). The Yoga plugin that serves GET /metrics and
 * measures GraphQL operations is src/plugins/metrics.ts.
 *
 * Gauges whose value lives elsewhere (open sockets, seats) are read when
 * scraped, from a reader registered with `observe`; a reader that fails
 * (Redis down) leaves the last value rather than failing the scrape.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';

/** The process's registry: default Node metrics plus Switchboard's own. */
export const registry = new Registry();

type Reader = () => number | Promise<number>;
const readers = new WeakMap<Gauge, Reader>();

/** A gauge whose value is read from the reader `observe` gave it, at scrape time. */
function observedGauge(name: string, help: string): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      const read = readers.get(this);
      if (!read) return;
      try {
        this.set(await read());
      } catch {
        // The source is down (e.g. Redis); the scrape keeps the last value.
      }
    },
  });
}

/** Makes `gauge` report `read()` at every scrape (the latest reader wins). */
export function observe(gauge: Gauge, read: Reader): void {
  readers.set(gauge, read);
}

const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Every Switchboard metric. Label values come from closed sets (schema field names, codes, rule names). */
export const metrics = {
  /** WebSocket connections open on this instance. */
  openSockets: observedGauge('switchboard_open_sockets', 'WebSocket connections open on this instance.'),
  /** Connection slots (distinct users) in use, cluster-wide. */
  seatsUsed: observedGauge('switchboard_seats_used', 'Connection slots in use, cluster-wide.'),
  /** MAX_CONNECTIONS. */
  seatsMax: observedGauge('switchboard_seats_max', 'Connection slots available in total (MAX_CONNECTIONS).'),
  /** Live subscriptions on this instance, by root field. */
  subscriptions: new Gauge({ name: 'switchboard_subscriptions', help: 'Live subscriptions on this instance, by root field.', labelNames: ['field'], registers: [registry] }),
  /** Subscriptions that went live on this instance (listening to what they stream), by root field. */
  subscriptionsStarted: new Counter({ name: 'switchboard_subscriptions_started_total', help: 'Subscriptions started on this instance, by root field.', labelNames: ['field'], registers: [registry] }),
  /** Events sent to subscribers, by root field. */
  subscriptionEvents: new Counter({ name: 'switchboard_subscription_events_total', help: 'Events sent to subscribers, by root field.', labelNames: ['field'], registers: [registry] }),
  /** Stored messages not published to the other instances, since none listened to their room (rooms/feed.ts). */
  messagePublishesSkipped: new Counter({ name: 'switchboard_message_publishes_skipped_total', help: 'Stored messages not published on the bus because no other instance listened to their room.', registers: [registry] }),
  /** Messages persisted by sendMessage (idempotent replays excluded). */
  messagesStored: new Counter({ name: 'switchboard_messages_stored_total', help: 'Messages persisted.', registers: [registry] }),
  /** Sends this instance has begun and not yet answered (messages/admission.ts refuses past a bound on them). */
  sendsInProgress: new Gauge({ name: 'switchboard_sends_in_progress', help: 'Sends begun and not yet answered on this instance.', registers: [registry] }),
  /** Statements that stored messages: one per batch of sends made together (messages/store.ts). */
  messageStatements: new Counter({ name: 'switchboard_message_statements_total', help: 'Statements that stored messages (one per group of concurrent sends).', registers: [registry] }),
  /** Messages delivered to roomMessages subscribers (replayed and live), counted per subscriber. */
  messagesDelivered: new Counter({ name: 'switchboard_messages_delivered_total', help: 'Messages delivered to roomMessages subscribers, per subscriber.', registers: [registry] }),
  /** Authentication attempts by operation (login, register, refresh). */
  authAttempts: new Counter({ name: 'switchboard_auth_attempts_total', help: 'Authentication attempts, by operation.', labelNames: ['operation'], registers: [registry] }),
  /** Failed authentication attempts by operation and error code. */
  authFailures: new Counter({ name: 'switchboard_auth_failures_total', help: 'Failed authentication attempts, by operation and error code.', labelNames: ['operation', 'code'], registers: [registry] }),
  /** Time taken by authentication operations. */
  authDuration: new Histogram({ name: 'switchboard_auth_duration_seconds', help: 'Duration of authentication operations.', labelNames: ['operation'], buckets: latencyBuckets, registers: [registry] }),
  /** bcrypt runs: `verify` (a password compared at login or deleteAccount: what the failed-login limits bound) and `hash` (a new password). */
  passwordHashing: new Counter({ name: 'switchboard_password_hashing_total', help: 'bcrypt runs, by kind (verify, hash).', labelNames: ['kind'], registers: [registry] }),
  /** Sign-in anomalies flagged (src/auth/anomalies.ts), by kind. */
  authAnomalies: new Counter({ name: 'switchboard_auth_anomalies_total', help: 'Sign-in anomalies flagged, by kind.', labelNames: ['kind'], registers: [registry] }),
  /** Requests refused by a rate limit, by rule name (e.g. message-user, login-ip); counted in src/adapters/rate-limit.ts. */
  rateLimitHits: new Counter({ name: 'switchboard_rate_limit_hits_total', help: 'Requests refused by a rate limit, by kind.', labelNames: ['kind'], registers: [registry] }),
  /** WebSocket connections refused or ended by the server, by close code. */
  refusedConnections: new Counter({ name: 'switchboard_refused_connections_total', help: 'WebSocket connections refused or closed by the server, by close code.', labelNames: ['code'], registers: [registry] }),
  /** GraphQL errors sent to clients, by extensions.code. */
  errors: new Counter({ name: 'switchboard_graphql_errors_total', help: 'GraphQL errors returned, by extensions.code.', labelNames: ['code'], registers: [registry] }),
  /** Query and mutation execution time, by operation type and root field. */
  operationDuration: new Histogram({
    name: 'switchboard_operation_duration_seconds',
    help: 'Execution time of queries and mutations, by operation type and root field.',
    labelNames: ['type', 'field'],
    buckets: latencyBuckets,
    registers: [registry],
  }),
};

let defaultsCollected = false;
/** Node's default metrics (event-loop lag, heap, GC, handles), once per process. */
export function collectDefaults(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
}


/** The operation `operationName` picks from `document` (or its only one). */
export function selectedOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
}

/** Names of the operation's root fields (fragments spread at the root count by their own fields). */
export function rootFields(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const names: string[] = [];
  const seen = new Set<string>();
  const walk = (selections: OperationDefinitionNode['selectionSet']['selections']) => {
    for (const s of selections) {
      if (s.kind === Kind.FIELD) names.push(s.name.value);
      else if (s.kind === Kind.INLINE_FRAGMENT) walk(s.selectionSet.selections);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const fragment = fragments.get(s.name.value);
        if (fragment) walk(fragment.selectionSet.selections);
      }
    }
  };
  walk(operation.selectionSet.selections);
  return names;
}

export interface ErrorLike {
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
  originalError?: unknown;
}

/** The code the client sees: the error's own, else what error masking will give it. */
export function codeOf(error: ErrorLike): string {
  const code = error.extensions?.code;
  if (typeof code === 'string') return code;
  return error.originalError ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT';
}

export const errorsOf = (result: unknown): ErrorLike[] => ((result as { errors?: ErrorLike[] } | null)?.errors ?? []);

/**
 * Counts an event sent to `subscribers` subscribers of root field `field`:
 * by the plugin for events graphql-ws sends, by shared fan-out for those it
 * writes to sockets itself.
 */
export function countSubscriptionEvent(field: string, result: unknown, subscribers: number): void {
  const errors = errorsOf(result);
  for (const error of errors) metrics.errors.inc({ code: codeOf(error) }, subscribers);
  if (errors.length) return;
  metrics.subscriptionEvents.inc({ field }, subscribers);
  if (field === 'roomMessages') metrics.messagesDelivered.inc(subscribers);
}

/** The root field a subscription document subscribes to ('unknown' when there is no such operation). */
export function subscribedField(document: DocumentNode, operationName?: string | null): string {
  const operation = selectedOperation(document, operationName);
  return operation ? (rootFields(document, operation)[0] ?? 'unknown') : 'unknown';
}

