/**
 * GraphQL over Server-Sent Events (graphql-sse) at /graphql/stream: the
 * fallback transport for subscriptions where WebSockets cannot pass.
 *
 * Operations run through Yoga's pipeline with the HTTP context, so the
 * `Authorization: Bearer <jwt>` header authenticates them as it does any
 * HTTP request. A subscription over HTTP (this endpoint, or Yoga's own
 * text/event-stream answers on /graphql) needs a valid token to start, and
 * ends with an UNAUTHENTICATED error event when its session is revoked or its
 * access token expires, as a WebSocket would be closed: the client
 * subscribes again with a fresh token (and, for roomMessages, its last cursor).
 * Starting one counts as a connection attempt (CONNECTS_PER_IP per
 * CONNECT_WINDOW, one budget with WebSocket connections), and a live stream
 * holds a connection slot like a socket (MAX_CONNECTIONS users,
 * MAX_SOCKETS_PER_USER each), released when it ends, and one of its user's
 * MAX_SUBSCRIPTIONS_PER_USER places (src/slots/subscriptions.ts).
 */
import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import type { App } from '../app.ts';
import type { Context, Viewer } from '../context.ts';
import { randomUUID } from 'node:crypto';
import { rateLimited, unauthenticated } from '../core/errors.ts';
import { consumeOrThrow } from '../adapters/rate-limit.ts';
import { delayUntil } from '../utils/timers.ts';
import { connectAttempts } from './connections.ts';
import { maskError } from '../plugins/error-masking.ts';

export interface GraphQLOverSSEOptions {
  /** Path of the graphql-sse endpoint. @default '/graphql/stream' */
  endpoint?: string;
}

/** Resolves with the final error result once the viewer's session ends or its token expires. */
function sessionEnd(app: App, viewer: Viewer): { ended: Promise<ExecutionResult>; cancel(): void } {
  let stopListening = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = new Promise<ExecutionResult>((resolve) => {
    stopListening = app.revocations.onSessionEnded((end) => {
      if (end.sessionId === viewer.sessionId) resolve({ errors: [unauthenticated('Your session has ended.')] });
    });
    const arm = () => {
      if (viewer.expiresAt * 1000 <= Date.now()) resolve({ errors: [unauthenticated('Your access token expired; subscribe again with a fresh one.')] });
      else timer = setTimeout(arm, delayUntil(viewer.expiresAt * 1000));
    };
    arm();
  });
  return {
    ended,
    cancel() {
      stopListening();
      clearTimeout(timer);
    },
  };
}

/** `source`, ended early with one last error result when `end` resolves. */
function endWhen<T>(source: AsyncIterable<T>, end: { ended: Promise<T>; cancel(): void }): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    end.cancel();
    await iterator.return?.();
  };
  const ended = end.ended.then((value) => ({ ended: true as const, value }));
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<T>> {
      if (finished) return { done: true, value: undefined };
      const step = await Promise.race([iterator.next(), ended]);
      if ('ended' in step) {
        await finish();
        return { done: false, value: step.value };
      }
      if (step.done) await finish();
      return step;
    },
    async return(): Promise<IteratorResult<T>> {
      await finish();
      return { done: true, value: undefined };
    },
  };
}

/** A refused subscription's one result (`data: null` marks it as a result for graphql-sse, which streams it as an event). */
const refusal = (error: GraphQLError): ExecutionResult => ({ data: null, errors: [error] });

/** graphql-sse at `endpoint`, and the auth and session rules of every subscription over HTTP. */
export function useGraphQLOverSSE(app: App, options: GraphQLOverSSEOptions = {}): Plugin {
  const attempts = connectAttempts(app);
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(useGraphQLSSE({ endpoint: options.endpoint ?? '/graphql/stream' }));
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as unknown as Context;
      // graphql-ws sockets have their own lifecycle (src/realtime/ws-server.ts).
      if (ctx.connection) return;
      try {
        await consumeOrThrow({ limiter: attempts, key: ctx.ip ?? 'unknown', message: 'Too many subscription attempts from your address; try again later.' });
      } catch (error) {
        // Thrown from here, a store fault would reach graphql-sse's handler and be answered with its stack.
        setResultAndStopExecution(refusal(error instanceof GraphQLError ? error : (maskError(app.logger, () => ctx.requestId)(error, '') as GraphQLError)));
        return;
      }
      const viewer = ctx.viewer;
      if (!viewer || app.revocations.isRevoked(viewer.sessionId) || viewer.expiresAt * 1000 <= Date.now()) {
        setResultAndStopExecution(refusal(ctx.authError ?? unauthenticated(ctx.tokenRefused ? 'Your access token is invalid, expired or revoked.' : 'Subscriptions need a token: send Authorization: Bearer <accessToken>.')));
        return;
      }
      const streamId = `sse:${randomUUID()}`;
      const admission = await app.slots.admit(viewer.userId, streamId);
      if (admission === 'held') {
        const seconds = Math.max(1, Math.ceil(app.slots.heldForMs() / 1000));
        setResultAndStopExecution(refusal(rateLimited(seconds, 'Seats are being counted again after Redis lost its state (recovering); try again shortly.')));
        return;
      }
      if (admission === 'slots' || admission === 'sockets') {
        app.logger.info({ requestId: ctx.requestId, userId: viewer.userId, ip: ctx.ip, limit: admission }, 'stream refused: connection limit reached');
        setResultAndStopExecution(
          refusal(rateLimited(5, admission === 'slots' ? 'No free seats: the connection limit is reached (slots).' : 'Too many connections for this user (sockets).')),
        );
        return;
      }
      const release = () => {
        void app.slots.release(viewer.userId, streamId).catch((error) => app.logger.warn({ err: String(error) }, 'could not release an SSE slot'));
        void app.subscriptionLimits.releaseSocket(viewer.userId, streamId).catch((error) => app.logger.warn({ err: String(error) }, 'could not release a subscription place'));
      };
      // A stream is one subscription: it counts against MAX_SUBSCRIPTIONS_PER_USER with the user's sockets.
      let overCap;
      try {
        overCap = await app.subscriptionLimits.take(viewer.userId, streamId, 0);
      } catch (error) {
        release();
        setResultAndStopExecution(refusal(maskError(app.logger, () => ctx.requestId)(error, '') as GraphQLError));
        return;
      }
      if (overCap) {
        release();
        app.logger.info({ requestId: ctx.requestId, userId: viewer.userId, limit: overCap.extensions.limit }, 'subscription refused: limit reached');
        setResultAndStopExecution(refusal(overCap));
        return;
      }
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return release();
          const end = sessionEnd(app, viewer);
          setResult(endWhen(result as AsyncIterable<ExecutionResult>, { ended: end.ended, cancel: () => (end.cancel(), release()) }));
        },
        onSubscribeError: release,
      };
    },
  };
}
