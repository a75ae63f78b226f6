/**
 * graphql-ws on the HTTP server's port and path: refuses upgrades from
 * origins outside ALLOWED_ORIGINS, admits each socket through
 * `connections.ts` (token, rate, seats), then runs every operation through
 * Yoga's envelop pipeline so HTTP and WebSocket share plugins, masking and
 * context.
 */
import type { Server } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { getOperationAST, type DocumentNode, type ExecutionArgs, type GraphQLError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { App } from '../app.ts';
import type { Context } from '../context.ts';
import { CloseCode } from '../core/codes.ts';
import { originRefused, ownOriginOfUpgrade } from '../plugins/origin.ts';
import { createConnections, type Connections, type SocketState } from './connections.ts';
import { maskError, requestErrors } from '../plugins/error-masking.ts';
import { releasedAtEnd } from '../slots/subscriptions.ts';
import { paramsError, resolveLimits } from '../plugins/query-limits.ts';
import { nextFrameWriter } from './frames.ts';
import { ServerSocket, startHeartbeat } from './server-socket.ts';
import { forgetUpgrade } from '../internals/graphql-ws.ts';
import { earlyRefusal } from '../messages/send-refusal.ts';
import { setBounded } from '../utils/bounded-map.ts';

type Extra = {
  socket: ServerSocket;
  request: IncomingMessage;
  state?: SocketState;
};

export interface RealtimeServer {
  wss: WebSocketServer;
  connections: Connections;
  /** Closes every socket with `code` and stops accepting upgrades. */
  close(code: CloseCode, reason: string): Promise<void>;
}

interface Prepared {
  document: DocumentNode;
  errors: readonly GraphQLError[];
  schema: GraphQLSchema;
}

/** Most query texts whose parse and validation a server keeps (as many as Yoga keeps parsed documents). */
const preparedLimit = 1024;

export function createRealtimeServer(app: App, yoga: YogaServerInstance<any, any>, httpServer: Server): RealtimeServer {
  const limits = resolveLimits({ maxQueryBytes: app.config.MAX_QUERY_BYTES });
  /**
   * Per query text, its document and what validating it found: the schema and the rules never change, and
   * going through envelop's parse and validate again, cached as they are, cost about 0.1 ms per operation
   * (the bench's sendMessage). Oldest out first.
   */
  const prepared = new Map<string, Prepared>();
  const refusingSends = () => app.messages.refusesSends();
  // A message over the body limit closes the socket with 1009 (message too big) before it is parsed.
  const connections = createConnections(app);
  const wss = new WebSocketServer({
    server: httpServer,
    path: '/graphql',
    maxPayload: limits.maxBodyBytes,
    WebSocket: ServerSocket,
    verifyClient: (info, accept) =>
      originRefused(app.origins.current(), info.origin, ownOriginOfUpgrade(info.secure, info.req.headers.host)) ? accept(false, 403, 'Forbidden origin') : accept(true),
  });

  useServer<Record<string, unknown> | undefined, Extra>(
    {
      // Whatever NODE_ENV says: an unexpected fault closes with 4500 and a generic reason, never its message.
      isProd: true,
      execute: (args: ExecutionArgs & { rootValue?: any }) => args.rootValue.execute(args),
      subscribe: (args: ExecutionArgs & { rootValue?: any }) => args.rootValue.subscribe(args),
      async onConnect(ctx) {
        const state = await connections.open(ctx.extra.socket, ctx.extra.request, ctx.connectionParams);
        if (!state) return false;
        ctx.extra.state = state;
        forgetUpgrade(ctx);
        return true;
      },
      async onSubscribe(ctx, id, payload) {
        const state = ctx.extra.state!;
        app.presence.activity(state.viewer.userId);
        const refused = paramsError(payload, limits);
        if (refused) return [refused];
        let entry = prepared.get(payload.query);
        // Before anything else is made for the operation: see messages/send-refusal.ts.
        const refusal = earlyRefusal(refusingSends, () => (entry?.errors.length === 0 ? entry.document : undefined), payload.operationName);
        if (entry && refusal) return { schema: entry.schema, document: entry.document, operationName: payload.operationName, variableValues: payload.variables, contextValue: {}, rootValue: { execute: () => refusal } };
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          request: null,
          socket: state,
          params: payload,
        });
        if (!entry) {
          try {
            const document = parse(payload.query);
            entry = { document, errors: validate(schema, document), schema };
          } catch (error) {
            return requestErrors([error as any]);
          }
          setBounded(prepared, payload.query, entry, preparedLimit);
        }
        const { document, errors } = entry;
        if (errors.length) return requestErrors(errors);
        const isSubscription = getOperationAST(document, payload.operationName)?.operation === 'subscription';
        const contextValue = (await contextFactory()) as unknown as Context;
        let subscribeFn = subscribe;
        if (isSubscription) {
          // Counted before the shared step, so that a burst of subscribes on one socket cannot pass its cap together.
          state.subscriptions++;
          let overCap;
          try {
            overCap = await app.subscriptionLimits.take(state.viewer.userId, state.id, state.subscriptions - 1);
          } catch (error) {
            state.subscriptions--;
            return [maskError(app.logger, () => state.id)(error, '') as GraphQLError];
          }
          if (overCap) {
            state.subscriptions--;
            app.logger.info({ connectionId: state.id, userId: state.viewer.userId, limit: overCap.extensions.limit }, 'subscription refused: limit reached');
            return [overCap];
          }
          state.heldSubscriptions = true;
          const socket = ctx.extra.socket;
          const release = () => {
            state.subscriptions--;
            // A closed socket gives back all its places in one step (connections.ts).
            if (socket.readyState !== socket.OPEN) return;
            app.subscriptionLimits.release(state.viewer.userId, state.id).catch((error) => app.logger.warn({ err: String(error) }, 'could not release a subscription place'));
          };
          subscribeFn = ((args: ExecutionArgs) => releasedAtEnd(() => subscribe(args), release)) as typeof subscribe;
          // Only a subscription's events are written by shared fan-out.
          contextValue.writeNext = nextFrameWriter(ctx.extra.socket, id, app.config.MAX_SOCKET_BUFFER);
        }
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe: subscribeFn },
        };
      },
    },
    wss,
    // graphql-ws's keep-alive keeps two timers per socket; startHeartbeat keeps one for all.
    0,
  );
  const stopHeartbeat = startHeartbeat(wss, app.config.KEEPALIVE_INTERVAL * 1000);

  return {
    wss,
    connections,
    close(code, reason) {
      connections.stop();
      stopHeartbeat();
      for (const client of wss.clients) client.close(code, reason);
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}
