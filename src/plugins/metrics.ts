/**
 * The Yoga plugin `useMetrics`: serves GET /metrics from the registry of
 * src/core/metrics.ts and measures what the GraphQL pipeline shows (HTTP and
 * WebSocket operations alike); and the start-up warning for a /metrics open
 * beyond loopback.
 */
import { timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { Histogram } from 'prom-client';
import type { DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { bearerToken } from '../core/bearer.ts';
import { codeOf, collectDefaults, countSubscriptionEvent, errorsOf, metrics, registry, rootFields, selectedOperation, subscribedField } from '../core/metrics.ts';

/** Root fields whose outcome counts as an authentication attempt. */
const authOperations = new Set(['login', 'register', 'refresh']);

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
          // Its stream listens by now (each subscribe resolver awaits that): a client may count on what is sent after.
          metrics.subscriptionsStarted.inc({ field });
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
