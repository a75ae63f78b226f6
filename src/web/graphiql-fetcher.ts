/**
 * GraphiQL's fetcher, bundled for the browser by src/plugins/graphiql.ts:
 * queries and mutations over HTTP with the headers editor's headers, and
 * subscriptions over graphql-ws with its Authorization header sent as the
 * connection params (`{ authorization: "Bearer <jwt>" }`), as the server
 * expects. A socket the server closes shows up as an error in the result pane.
 * HTTP requests carry CSRF_HEADER, so `mutation { refresh { ... } }` works
 * with the HttpOnly cookie a login set.
 */
import { createClient, type Client } from 'graphql-ws';
import { CSRF_HEADER } from '../core/codes.ts';

interface FetcherParams {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

interface FetcherOptions {
  headers?: Record<string, unknown>;
  documentAST?: { definitions: ReadonlyArray<{ kind: string; operation?: string; name?: { value: string } }> };
}

type Result = { data?: unknown; errors?: ReadonlyArray<{ message: string }> };

const isSubscription = (params: FetcherParams, options: FetcherOptions | undefined): boolean => {
  const operations = (options?.documentAST?.definitions ?? []).filter((d) => d.kind === 'OperationDefinition');
  const chosen = params.operationName ? operations.find((d) => d.name?.value === params.operationName) : operations[0];
  if (chosen) return chosen.operation === 'subscription';
  return /^\s*subscription\b/.test(params.query.replace(/#[^\n]*/g, ''));
};

const stringHeaders = (headers: Record<string, unknown> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));

/** The fetcher for `endpoint` (an absolute http(s) URL). */
export function createFetcher(endpoint: string) {
  const wsUrl = endpoint.replace(/^http/, 'ws');
  let socket: Client | null = null;
  let socketAuth: string | undefined;

  async function* subscribe(params: FetcherParams, authorization: string | undefined): AsyncGenerator<Result> {
    if (!socket || socketAuth !== authorization) {
      socket?.dispose();
      socketAuth = authorization;
      socket = createClient({ url: wsUrl, connectionParams: authorization ? { authorization } : {}, lazy: true, retryAttempts: 0 });
    }
    try {
      yield* socket.iterate({ query: params.query, operationName: params.operationName ?? undefined, variables: params.variables ?? undefined });
    } catch (error) {
      socket = null;
      const close = error as { code?: number; reason?: string };
      if (Array.isArray(error)) yield { errors: error };
      else yield { errors: [{ message: `The socket closed: ${close.code ?? ''} ${close.reason ?? String(error)}`.trim() }] };
    }
  }

  return (params: FetcherParams, options?: FetcherOptions): Promise<Result> | AsyncGenerator<Result> => {
    const headers = stringHeaders(options?.headers);
    const authorization = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    if (isSubscription(params, options)) return subscribe(params, authorization);
    return fetch(endpoint, {
      method: 'POST',
      // CSRF_HEADER lets a `refresh` without arguments spend the refresh cookie (src/auth/refresh-cookie.ts).
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', [CSRF_HEADER]: '1', ...headers },
      body: JSON.stringify(params),
    }).then((response) => response.json() as Promise<Result>);
  };
}
