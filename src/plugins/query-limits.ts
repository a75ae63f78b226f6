/**
 * Query limits (PRODUCT.md, "Input limits and errors"), as one Yoga plugin
 * `useQueryLimits` built on graphql-armor: depth, aliases, tokens, cost and
 * directives, with field suggestions hidden. Before any parsing, HTTP bodies
 * are bounded in size (413 PAYLOAD_TOO_LARGE) and JSON nesting, and a
 * document over MAX_QUERY_BYTES is refused (PAYLOAD_TOO_LARGE).
 *
 * graphql-armor's refusals carry BAD_USER_INPUT. The armor plugins act in
 * envelop's parse and validate, which WebSocket operations use too
 * (src/realtime/ws-server.ts); `paramsError` is the size and nesting check
 * for a graphql-ws subscribe payload.
 */
import { GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema, type ValidationContext } from 'graphql';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer, maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { ErrorCode } from '../core/codes.ts';
import { appError, badInput } from '../core/errors.ts';
import { requestErrors } from './error-masking.ts';

export interface QueryLimits {
  /** Largest GraphQL document, in UTF-8 bytes (MAX_QUERY_BYTES). */
  maxQueryBytes: number;
  /** Largest HTTP request body or WebSocket message, in bytes. @default max(1 MiB, 2 × maxQueryBytes) */
  maxBodyBytes?: number;
  /** Deepest nesting of JSON input (body, variables, extensions). @default 32 */
  maxJsonDepth?: number;
  /** Deepest selection set; introspection is exempt. @default 12 */
  maxDepth?: number;
  /** Most aliases in one operation, `__typename` aliases included. @default 15 */
  maxAliases?: number;
  /** Most lexical tokens in one document. @default 4000 */
  maxTokens?: number;
  /** Highest graphql-armor cost (objects 2, scalars 1, × 1.5 per level); introspection is exempt. @default 5000 */
  maxCost?: number;
  /** Most directives in one operation. @default 20 */
  maxDirectives?: number;
  /**
   * Paths served by handlers that read GraphQL params themselves, bypassing
   * Yoga's request parsing (graphql-sse): their requests are bounded and
   * checked here before the handler sees them.
   * @default ['/graphql/stream']
   */
  ownParsingEndpoints?: string[];
}

export type ResolvedLimits = Required<QueryLimits>;

/** `limits` with every default filled in. */
export function resolveLimits(limits: QueryLimits): ResolvedLimits {
  return {
    maxBodyBytes: Math.max(1024 * 1024, 2 * limits.maxQueryBytes),
    maxJsonDepth: 32,
    maxDepth: 12,
    maxAliases: 15,
    maxTokens: 4000,
    maxCost: 5000,
    maxDirectives: 20,
    ownParsingEndpoints: ['/graphql/stream'],
    ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
  } as ResolvedLimits;
}

const tooLarge = (message: string) => appError(ErrorCode.PAYLOAD_TOO_LARGE, message, { http: { status: 413 } });
/**
 * A body refused before it was all read: the rest of it is still on the
 * connection, so the answer closes it. A client that reused it would have its
 * next request read as the leftover body's continuation, or reset.
 */
const bodyTooLarge = (maxBytes: number) =>
  appError(ErrorCode.PAYLOAD_TOO_LARGE, `The request body is larger than ${maxBytes} bytes.`, { http: { status: 413, headers: { connection: 'close' } } });

/** True when `text` (JSON) nests arrays/objects deeper than `max`; strings are skipped. Linear, no recursion. */
export function jsonTextTooDeep(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** True when the parsed value `value` nests deeper than `max`. Iterative, stops descending past `max`. */
export function jsonValueTooDeep(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * The refusal for GraphQL params (HTTP or a graphql-ws subscribe payload)
 * whose document is over maxQueryBytes or whose variables or extensions nest
 * too deep; null when they are within the limits.
 */
export function paramsError(params: { query?: unknown; variables?: unknown; extensions?: unknown }, limits: Pick<ResolvedLimits, 'maxQueryBytes' | 'maxJsonDepth'>): GraphQLError | null {
  const { maxQueryBytes, maxJsonDepth } = limits;
  if (typeof params.query === 'string' && Buffer.byteLength(params.query, 'utf8') > maxQueryBytes) {
    return tooLarge(`The document is larger than ${maxQueryBytes} bytes.`);
  }
  if (jsonValueTooDeep(params.variables, maxJsonDepth)) return badInput('variables', `Variables nest deeper than ${maxJsonDepth} levels.`);
  if (jsonValueTooDeep(params.extensions, maxJsonDepth)) return badInput('extensions', `Extensions nest deeper than ${maxJsonDepth} levels.`);
  return null;
}

/** Reads `request`'s body as text, refusing it once it passes `maxBytes`. */
async function readBounded(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw bodyTooLarge(maxBytes);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * graphql-armor's refusals with their code. A validation rule's refusal is
 * reported as an ordinary validation error (armor would throw it out of
 * `validate`); the token limit, met while parsing, is thrown like any syntax error.
 */
const markBadInput = (error: GraphQLError) => Object.assign(error.extensions as Record<string, unknown>, { code: ErrorCode.BAD_USER_INPUT });
const parseRefusal = { exposeLimits: true, propagateOnRejection: true, onReject: [(_ctx: unknown, error: GraphQLError) => void markBadInput(error)] };
const validationRefusal = {
  exposeLimits: true,
  propagateOnRejection: false,
  onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(markBadInput(error) && error)],
};

/** `request` again, carrying `body` (already read); its length is recomputed. */
function withBody(fetchAPI: { Request: typeof Request }, request: Request, body: string): Request {
  const headers = new Headers(request.headers);
  headers.delete('content-length');
  return new fetchAPI.Request(request.url, { method: request.method, headers, body });
}

/** A refusal answered at once, as Yoga would answer it: JSON errors with the HTTP status of the first. */
function refusalResponse(fetchAPI: { Response: typeof Response }, errors: readonly GraphQLError[]): Response {
  const status = Number((errors[0]?.extensions.http as { status?: number } | undefined)?.status ?? 400);
  const body = errors.map((error) => {
    const { http: _http, ...extensions } = error.extensions as Record<string, unknown>;
    return { message: error.message, ...(error.locations ? { locations: error.locations } : {}), extensions };
  });
  return new fetchAPI.Response(JSON.stringify({ errors: body }), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

/**
 * The checks Yoga's own parsing path gets, for a request to an endpoint
 * that parses for itself: bounded body, JSON nesting, params, and a
 * document that parses within the token limit (so that the handler never
 * meets a syntax error it would answer with a stack trace).
 */
async function checkOwnParsingRequest(
  request: Request,
  url: URL,
  l: ResolvedLimits,
  enveloped: (params: Record<string, unknown>) => { parse: (query: string) => DocumentNode; validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[]; schema: GraphQLSchema },
): Promise<{ errors: readonly GraphQLError[] } | { body: string | null }> {
  const fail = (error: GraphQLError) => ({ errors: [error] });
  const badBody = (message: string) => fail(appError(ErrorCode.BAD_USER_INPUT, message, { field: 'body', http: { status: 400 } }));
  let body: string | null = null;
  let params: Record<string, unknown> = {};
  if (request.body && request.method !== 'GET' && request.method !== 'HEAD') {
    try {
      body = await readBounded(request, l.maxBodyBytes);
    } catch (error) {
      if (error instanceof GraphQLError) return fail(error);
      throw error;
    }
    if (body.trim() !== '') {
      if (jsonTextTooDeep(body, l.maxJsonDepth)) return badBody(`The request body nests deeper than ${l.maxJsonDepth} levels.`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return badBody('The request body is not valid JSON.');
      }
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) params = parsed as Record<string, unknown>;
    }
  } else {
    const query = url.searchParams.get('query');
    if (query !== null) params = { query };
  }
  const refused = paramsError(params, l);
  if (refused) return fail(refused);
  if (typeof params.query === 'string') {
    try {
      new MaxTokensParserWLexer(params.query, { n: l.maxTokens }).parseDocument();
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      return fail(appError(ErrorCode.BAD_USER_INPUT, error.message, { http: { status: 400 } }));
    }
    // The handler would lose validation errors (graphql-sse reads them as arguments): answer them here.
    try {
      const { parse, validate, schema } = enveloped(params);
      const errors = requestErrors(validate(schema, parse(params.query)));
      if (errors.length) return { errors };
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      return { errors: requestErrors([error]) };
    }
  }
  return { body };
}

/** A single result with errors and no `data` key. */
const isDatalessResult = (result: unknown): result is ExecutionResult =>
  typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result) && 'errors' in result && !('data' in result);

/** Yoga plugin: every query limit, on HTTP and (through envelop) on WebSocket operations. */
export function useQueryLimits(limits: QueryLimits): Plugin {
  const l = resolveLimits(limits);
  let yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>> | undefined;
  const servesOwnParsing = (context: unknown) => {
    const request = (context as { request?: Request | null } | undefined)?.request;
    return request ? l.ownParsingEndpoints.includes(new URL(request.url).pathname) : false;
  };
  return {
    onYogaInit({ yoga: instance }) {
      yoga = instance as typeof yoga;
    },
    onPluginInit({ addPlugin }) {
      addPlugin(maxTokensPlugin({ ...parseRefusal, n: l.maxTokens }));
      addPlugin(maxDepthPlugin({ ...validationRefusal, n: l.maxDepth, ignoreIntrospection: true, flattenFragments: true }));
      // armor exempts __typename aliases by default: 1,000 of them would run, each a response key of its own.
      addPlugin(maxAliasesPlugin({ ...validationRefusal, n: l.maxAliases, allowList: [] }));
      addPlugin(costLimitPlugin({ ...validationRefusal, maxCost: l.maxCost, ignoreIntrospection: true }));
      addPlugin(maxDirectivesPlugin({ ...validationRefusal, n: l.maxDirectives }));
      addPlugin(blockFieldSuggestionsPlugin());
    },
    async onRequest({ request, url, setRequest, endResponse, fetchAPI }) {
      if (!l.ownParsingEndpoints.includes(url.pathname)) return;
      const checked = await checkOwnParsingRequest(request, url, l, (params) => yoga!.getEnveloped({ request, params }) as never);
      if ('errors' in checked) {
        endResponse(refusalResponse(fetchAPI, checked.errors));
        return;
      }
      if (checked.body !== null) setRequest(withBody(fetchAPI, request, checked.body));
    },
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!requestParser || request.method === 'GET' || request.method === 'HEAD') return;
      const parse = requestParser;
      setRequestParser(async (original) => {
        const text = await readBounded(original, l.maxBodyBytes);
        const json = /json/i.test(original.headers.get('content-type') ?? '');
        if (json && jsonTextTooDeep(text, l.maxJsonDepth)) {
          throw appError(ErrorCode.BAD_USER_INPUT, `The request body nests deeper than ${l.maxJsonDepth} levels.`, { field: 'body', http: { status: 400 } });
        }
        try {
          return await parse(withBody(fetchAPI, original, text));
        } catch (error) {
          // Yoga's invalid-JSON error is 400 only when the client accepts application/graphql-response+json (`spec`),
          // else 200; the GraphQL-over-HTTP spec wants 400 for a body that is not JSON whatever the client accepts.
          if (json && error instanceof GraphQLError && (error.extensions.http as { spec?: boolean } | undefined)?.spec) {
            throw appError(ErrorCode.BAD_USER_INPUT, 'The request body is not valid JSON.', { field: 'body', http: { status: 400 } });
          }
          throw error;
        }
      });
    },
    // graphql-sse mistakes a result without `data` (a variables error) for operation arguments and
    // answers "Unable to detect operation AST" instead: give such results `data: null` on its endpoints.
    onExecute({ args }) {
      if (!servesOwnParsing(args.contextValue)) return;
      return { onExecuteDone: ({ result, setResult }) => void (isDatalessResult(result) && setResult({ ...result, data: null })) };
    },
    onSubscribe({ args }) {
      if (!servesOwnParsing(args.contextValue)) return;
      return { onSubscribeResult: ({ result, setResult }) => void (isDatalessResult(result) && setResult({ ...result, data: null })) };
    },
    onParams({ params, setResult }) {
      const error = paramsError(params, l);
      if (error) setResult({ errors: [error] });
    },
  };
}
