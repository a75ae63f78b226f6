/**
 * Prometheus metrics (prom-client): one registry per process and the named
 * metrics every domain increments (`import { metrics } from
 * '../infra/metrics.ts'`), plus the Yoga plugin `useMetrics` that serves
 * GET /metrics and measures GraphQL operations and subscriptions itself.
 *
 * Gauges whose value lives elsewhere (open sockets, seats) are read when
 * scraped, from a reader registered with `observe`; a reader that fails
 * (Redis down) leaves the last value rather than failing the scrape.
 */
import { timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { bearerToken } from '../context.ts';

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
  /** Events sent to subscribers, by root field. */
  subscriptionEvents: new Counter({ name: 'switchboard_subscription_events_total', help: 'Events sent to subscribers, by root field.', labelNames: ['field'], registers: [registry] }),
  /** Messages persisted by sendMessage (idempotent replays excluded). */
  messagesStored: new Counter({ name: 'switchboard_messages_stored_total', help: 'Messages persisted.', registers: [registry] }),
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
  /** Requests refused by a rate limit, by rule name (e.g. message-user, login-ip); counted in src/infra/rate-limit.ts. */
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
function collectDefaults(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
}

/** Root fields whose outcome counts as an authentication attempt. */
const authOperations = new Set(['login', 'register', 'refresh']);

/** The operation `operationName` picks from `document` (or its only one). */
function selectedOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
}

/** Names of the operation's root fields (fragments spread at the root count by their own fields). */
function rootFields(document: DocumentNode, operation: OperationDefinitionNode): string[] {
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

interface ErrorLike {
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
  originalError?: unknown;
}

/** The code the client sees: the error's own, else what error masking will give it. */
function codeOf(error: ErrorLike): string {
  const code = error.extensions?.code;
  if (typeof code === 'string') return code;
  return error.originalError ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT';
}

const errorsOf = (result: unknown): ErrorLike[] => ((result as { errors?: ErrorLike[] } | null)?.errors ?? []);

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

/** What the plugin labels a query's or mutation's measures with. */
interface OperationFacts {
  fields: string[];
  /** Its root fields that are authentication attempts. */
  auth: string[];
  /** operationDuration labelled with its type and its one root field (or 'multiple'). */
  duration: ReturnType<Histogram['labels']>;
}

/** Per document, per name of an operation it holds: its facts, worked out at its first execution (Yoga parses a text once and caches the document). */
const operationFacts = new WeakMap<DocumentNode, Map<string, OperationFacts>>();

function factsOf(document: DocumentNode, operationName?: string | null): OperationFacts | undefined {
  let byName = operationFacts.get(document);
  if (!byName) operationFacts.set(document, (byName = new Map()));
  const key = operationName ?? '';
  const known = byName.get(key);
  if (known) return known;
  // A name the document lacks is not kept: a client could send any number of them.
  const operation = selectedOperation(document, operationName);
  if (!operation) return undefined;
  const fields = rootFields(document, operation);
  const field = fields.length === 1 ? fields[0]! : 'multiple';
  const facts = { fields, auth: fields.filter((f) => authOperations.has(f)), duration: metrics.operationDuration.labels({ type: operation.operation, field }) };
  byName.set(key, facts);
  return facts;
}

export interface MetricsOptions {
  /** Path that serves the Prometheus text format. @default '/metrics' */
  endpoint?: string;
  /**
   * When set, a scrape must carry `Authorization: Bearer <token>` (as
   * Prometheus sends its `authorization` credentials), else 401.
   * @default undefined (no token asked: keep the endpoint internal)
   */
  token?: string;
}

/** Whether the `Authorization` header carries `token` as its bearer token, compared in constant time. */
function bearerMatches(header: string | null, token: string): boolean {
  const given = Buffer.from(bearerToken(header) ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * Yoga plugin: GET /metrics, plus what can be measured from the GraphQL
 * pipeline alone (HTTP and WebSocket operations alike): operation latency,
 * error codes, authentication attempts, failures and latency, live
 * subscriptions and the events they deliver.
 */
export function useMetrics(options: MetricsOptions = {}): Plugin {
  const endpoint = options.endpoint ?? '/metrics';
  collectDefaults();
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response('Method Not Allowed', { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      if (options.token !== undefined && !bearerMatches(request.headers.get('authorization'), options.token)) {
        endResponse(new fetchAPI.Response('Unauthorized', { status: 401, headers: { 'www-authenticate': 'Bearer realm="metrics"' } }));
        return;
      }
      endResponse(new fetchAPI.Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } }));
    },
    onExecute({ args }) {
      const facts = factsOf(args.document, args.operationName);
      if (!facts) return;
      const { fields, auth, duration } = facts;
      const started = process.hrtime.bigint();
      return {
        onExecuteDone({ result }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          duration.observe(seconds);
          const errors = errorsOf(result);
          for (const error of errors) metrics.errors.inc({ code: codeOf(error) });
          for (const name of auth) {
            metrics.authAttempts.inc({ operation: name });
            metrics.authDuration.observe({ operation: name }, seconds);
            const failed = errors.find((e) => e.path?.[0] === name || (fields.length === 1 && !e.path));
            if (failed) metrics.authFailures.inc({ operation: name, code: codeOf(failed) });
          }
        },
      };
    },
    onSubscribe({ args }) {
      const field = subscribedField(args.document, args.operationName);
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in (result as object))) {
            for (const error of errorsOf(result)) metrics.errors.inc({ code: codeOf(error) });
            return;
          }
          metrics.subscriptions.inc({ field });
          let ended = false;
          return {
            onNext({ result: event }) {
              countSubscriptionEvent(field, event, 1);
            },
            onEnd() {
              if (ended) return;
              ended = true;
              metrics.subscriptions.dec({ field });
            },
          };
        },
      };
    },
  };
}

/** Loopback literals, as HOST may be written (IPv4-mapped ::ffff:127.x included). */
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * True when `host` (HOST) is loopback as written: localhost, 127.0.0.0/8 or
 * ::1. Names are not resolved: any other name counts as reachable from outside.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare.toLowerCase() === 'localhost') return true;
  const family = isIP(bare);
  return family !== 0 && loopback.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** The start-up warning when /metrics is open on an address others can reach (PRODUCT.md, owner's decisions), else null. */
export function metricsExposureWarning(config: { HOST: string; METRICS_TOKEN?: string | undefined }): string | null {
  if (config.METRICS_TOKEN !== undefined || isLoopbackHost(config.HOST)) return null;
  return `GET /metrics is open to anyone who reaches HOST=${config.HOST}: set METRICS_TOKEN (a scrape then needs Authorization: Bearer <token>) or listen on a loopback address`;
}
