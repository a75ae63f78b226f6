/**
 * Wires the application into one HTTP server: Yoga (GraphQL over HTTP and
 * GraphiQL) and graphql-ws on the same port and path `/graphql`.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createYoga } from 'graphql-yoga';
import type { App } from './app.ts';
import type { Context } from './context.ts';
import { authenticate, parseAuthorization } from './auth/dpop.ts';
import { schema } from './schema.ts';
import { CloseCode } from './core/codes.ts';
import { useHealthChecks } from './plugins/health.ts';
import { useOriginCheck } from './plugins/origin.ts';
import { useMediaTypeCheck } from './plugins/csrf.ts';
import { useIntrospectionSwitch } from './plugins/introspection.ts';
import { maskError, useErrorRequestIds, useValidationErrorCodes } from './plugins/error-masking.ts';
import { requestIdOf, useRequestId } from './plugins/request-id.ts';
import { createRealtimeServer } from './realtime/ws-server.ts';
import { useSharedFanOut } from './realtime/fan-out.ts';
import { useGraphqlExecute } from './plugins/executor.ts';
import type { SocketState } from './realtime/connections.ts';
import { renderLocalGraphiQL, useGraphiQLAssets } from './plugins/graphiql.ts';
import { useGraphQLOverSSE } from './realtime/sse.ts';
import { useWebPage } from './web/plugin.ts';
import { useRefreshCookie } from './auth/refresh-cookie.ts';
import { useJwks } from './auth/jwks.ts';
import { useOidcRoutes } from './auth/oidc-routes.ts';
import { metrics, observe } from './core/metrics.ts';
import { useMetrics } from './plugins/metrics.ts';
import { useQueryLimits } from './plugins/query-limits.ts';
import { useSendRefusal } from './messages/send-refusal.ts';
import { loadTls } from './adapters/tls.ts';

export interface SwitchboardServer {
  httpServer: Server;
  /** Listens on HOST:PORT; resolves to the base URL. */
  listen(): Promise<string>;
  /** Graceful stop: refuse new work, close sockets with 1001, release, close adapters. */
  close(): Promise<void>;
}

interface ServerContext {
  /** Node request (HTTP). */
  req?: { socket?: { remoteAddress?: string } };
  /** Set for WebSocket operations. */
  socket?: SocketState;
  /** The graphql-ws subscribe payload of a WebSocket operation (its `extensions.dpop`: src/auth/dpop.ts). */
  params?: { extensions?: Record<string, unknown> | null };
}

export function createServer(app: App): SwitchboardServer {
  const mask = maskError(app.logger, (context) => (context as Partial<Context> | undefined)?.requestId);

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: { subscriptionsProtocol: 'WS', title: 'Switchboard' },
    renderGraphiQL: renderLocalGraphiQL,
    // Yoga masks what no operation's context reached (its own request errors, a failing context); the rest arrives masked.
    maskedErrors: { isDev: false, maskError: mask },
    logging: false,
    // CORS is src/plugins/origin.ts's (Yoga's grants every origin with credentials); multipart is a form a page elsewhere may post.
    cors: false,
    multipart: false,
    plugins: [useOriginCheck(app.origins.current), useMediaTypeCheck(), useIntrospectionSwitch(app.config.INTROSPECTION), useHealthChecks(app), useJwks(app.tokens), useOidcRoutes(app), useMetrics({ token: app.config.METRICS_TOKEN }), useQueryLimits({ maxQueryBytes: app.config.MAX_QUERY_BYTES }), useSendRefusal(() => app.messages.refusesSends()), useValidationErrorCodes(), useErrorRequestIds(mask), useRequestId(), useWebPage(), useGraphiQLAssets(), useGraphQLOverSSE(app), useRefreshCookie(), useSharedFanOut({ maskError: mask, logger: app.logger }), useGraphqlExecute()],
    async context({ request, req, socket, params }): Promise<Context> {
      if (socket) {
        // DPoP: an operation over the socket has no headers; its proof (for login and refresh) is in its extensions.
        const proof = params?.extensions?.dpop;
        const dpop = { proof: typeof proof === 'string' ? proof : null, htm: 'POST', htu: socket.endpoint };
        return { app, viewer: socket.viewer, tokenRefused: false, ip: socket.ip, requestId: socket.id, request: null, connection: socket, dpop };
      }
      const dpop = { proof: request.headers.get('dpop'), htm: request.method, htu: request.url };
      const authorization = parseAuthorization(request.headers.get('authorization'));
      const auth = authorization ? await authenticate(app, authorization, dpop) : null;
      return {
        app,
        viewer: auth?.viewer ?? null,
        tokenRefused: auth?.refused ?? false,
        dpop,
        ...(auth?.error ? { authError: auth.error } : {}),
        ip: req?.socket?.remoteAddress ?? null,
        requestId: requestIdOf(request),
        request,
        connection: null,
      };
    },
  });

  const tls = loadTls(app.config);
  const httpServer: Server = tls ? createHttpsServer(tls, yoga) : createHttpServer(yoga);
  const realtime = createRealtimeServer(app, yoga, httpServer);
  observe(metrics.openSockets, () => realtime.wss.clients.size);
  observe(metrics.seatsUsed, async () => (await app.slots.counts()).used);
  observe(metrics.seatsMax, () => app.config.MAX_CONNECTIONS);

  return {
    httpServer,
    listen() {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(app.config.PORT, app.config.HOST, () => {
          const address = httpServer.address();
          const port = typeof address === 'object' && address ? address.port : app.config.PORT;
          const host = app.config.HOST.includes(':') ? `[${app.config.HOST}]` : app.config.HOST;
          resolve(`${tls ? 'https' : 'http'}://${host}:${port}`);
        });
      });
    },
    async close() {
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await realtime.close(CloseCode.GoingAway, 'server shutting down');
      httpServer.closeIdleConnections();
      await stopped;
      await app.close();
    },
  };
}
