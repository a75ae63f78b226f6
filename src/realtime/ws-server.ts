/**
 * graphql-ws on the HTTP server's port and path: authenticates the
 * connection_init payload, then runs every operation through Yoga's
 * envelop pipeline so HTTP and WebSocket share plugins, masking and context.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { App } from '../app.ts';
import { bearerToken, viewerFromToken, type Context, type LiveConnection, type Viewer } from '../context.ts';
import { CloseCode } from '../infra/codes.ts';
import { requestErrors } from '../infra/error-masking.ts';
import { paramsError, resolveLimits } from '../infra/query-limits.ts';
import { guardProtocol } from '../infra/ws-guard.ts';

/** What the server keeps about one live socket. */
export interface SocketState extends LiveConnection {
  viewer: Viewer;
  ip: string | null;
}

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  state?: SocketState;
};

/** The token of a connection_init payload: `{ authorization: "Bearer <jwt>" }` or `{ token: "<jwt>" }`. */
export function tokenFromConnectionParams(params: unknown): string | null {
  if (!params || typeof params !== 'object') return null;
  const { authorization, Authorization, token } = params as Record<string, unknown>;
  const header = typeof authorization === 'string' ? authorization : typeof Authorization === 'string' ? Authorization : null;
  if (header) return bearerToken(header);
  return typeof token === 'string' && token.length > 0 ? token : null;
}

export interface RealtimeServer {
  wss: WebSocketServer;
  /** Closes every socket with `code` and stops accepting upgrades. */
  close(code: CloseCode, reason: string): Promise<void>;
}

export function createRealtimeServer(app: App, yoga: YogaServerInstance<any, any>, httpServer: Server): RealtimeServer {
  const limits = { maxQueryBytes: app.config.MAX_QUERY_BYTES };
  // A message over the body limit closes the socket with 1009 (message too big) before it is parsed.
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: resolveLimits(limits).maxBodyBytes });

  useServer<Record<string, unknown> | undefined, Extra>(
    {
      // Whatever NODE_ENV says: an unexpected fault closes with 4500 and a generic reason, never its message.
      isProd: true,
      execute: (args: ExecutionArgs & { rootValue?: any }) => args.rootValue.execute(args),
      subscribe: (args: ExecutionArgs & { rootValue?: any }) => args.rootValue.subscribe(args),
      async onConnect(ctx) {
        const token = tokenFromConnectionParams(ctx.connectionParams);
        const viewer = token ? await viewerFromToken(app, token) : null;
        if (!viewer) {
          ctx.extra.socket.close(CloseCode.BadToken, 'Forbidden: missing, invalid, expired or revoked token');
          return false;
        }
        const state: SocketState = {
          id: randomUUID(),
          viewer,
          ip: ctx.extra.request.socket.remoteAddress ?? null,
          renew(renewed) {
            state.viewer = renewed;
          },
        };
        ctx.extra.state = state;
        app.logger.debug({ connectionId: state.id, userId: viewer.userId }, 'socket connected');
        return true;
      },
      async onSubscribe(ctx, _id, payload) {
        const state = ctx.extra.state!;
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          request: null,
          socket: state,
          params: payload,
        });
        const refused = paramsError(payload, limits);
        if (refused) return [refused];
        let document;
        let errors;
        try {
          document = parse(payload.query);
          errors = validate(schema, document);
        } catch (error) {
          return requestErrors([error as any]);
        }
        if (errors.length) return requestErrors(errors);
        const contextValue = (await contextFactory()) as unknown as Context;
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
      },
    },
    guardProtocol(wss),
  );

  return {
    wss,
    close(code, reason) {
      for (const client of wss.clients) client.close(code, reason);
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}
