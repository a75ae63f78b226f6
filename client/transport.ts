/**
 * One operation on the wire, for the SDK's other parts: a POST over HTTP
 * (with the token or a DPoP proof), or one request over an open graphql-ws
 * socket. It knows nothing of sessions or reconnects: those are
 * client/session.ts and client/socket.ts.
 */
import type { Client } from 'graphql-ws';
import type { TypedDocumentString } from './gql/graphql.ts';
import { boundKeyOf, type DpopKey } from './dpop.ts';
import { GraphQLRequestError, TransportError } from './errors.ts';

export interface Variables {
  [name: string]: unknown;
}

/** A query or mutation run as the session (`auth`, the default) or without a token (`auth: false`). */
export type Request = <TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables?: TVariables, options?: { auth?: boolean }) => Promise<TResult>;

/** Whether a socket's close (or error) carries a close code. */
export const isCloseLike = (value: unknown): value is { code: number; reason?: string } =>
  typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number';

/** The GraphQL endpoint over HTTP, and the DPoP key every proof for it is signed with. */
export class HttpTransport {
  constructor(
    readonly url: string,
    private readonly fetchImpl: typeof fetch,
    private readonly dpopKey: DpopKey,
  ) {}

  /**
   * A DPoP proof for `htm` on the endpoint's http(s) URL, which is what the server checks for a socket's
   * connection_init too (src/auth/dpop.ts); with `accessToken`, bound to it.
   */
  proof(htm: string, accessToken?: string): Promise<string> {
    return this.dpopKey.proof(htm, this.url, accessToken);
  }

  /**
   * POSTs an operation. A DPoP-bound `token` goes as `Authorization: DPoP` with a proof for it; with `bind`
   * (login, refresh) a proof of the key comes along without a token, so that the new tokens are bound to it.
   * `headers` are added as they are.
   */
  async post<TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    variables: TVariables | undefined,
    token: string | null,
    bind = false,
    headers: Record<string, string> = {},
  ): Promise<TResult> {
    const bound = token !== null && boundKeyOf(token) !== null;
    const proof = bound || bind ? await this.proof('POST', bound ? token : undefined) : null;
    let response: Response;
    try {
      response = await this.fetchImpl(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token ? { authorization: `${bound ? 'DPoP' : 'Bearer'} ${token}` } : {}),
          ...(proof ? { dpop: proof } : {}),
          ...headers,
        },
        body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
      });
    } catch (error) {
      throw new TransportError(`request failed: ${(error as Error).message}`);
    }
    let body: { data?: TResult | null; errors?: GraphQLRequestError['errors'] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new TransportError(`HTTP ${response.status} without a GraphQL answer`, response.status);
    }
    if (body.errors?.length) throw new GraphQLRequestError(body.errors);
    if (!body.data) throw new TransportError(`HTTP ${response.status} without data`, response.status);
    return body.data;
  }
}

/** One query or mutation over an open socket. */
export function requestOverSocket<TResult, TVariables>(
  socket: Client,
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  extensions?: Record<string, unknown>,
): Promise<TResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    socket.subscribe<TResult>(
      { query: document.toString(), variables: variables as Variables, ...(extensions ? { extensions } : {}) },
      {
        next: (result) => {
          settled = true;
          if (result.errors?.length) reject(new GraphQLRequestError(result.errors));
          else resolve(result.data as TResult);
        },
        error: (error) => {
          settled = true;
          reject(Array.isArray(error) ? new GraphQLRequestError(error) : new TransportError(`socket closed during the request (${isCloseLike(error) ? error.code : 'error'})`));
        },
        complete: () => {
          if (!settled) reject(new TransportError('socket request completed without an answer'));
        },
      },
    );
  });
}
