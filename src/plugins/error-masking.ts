/**
 * Error masking for Yoga: errors we made (with a known code) pass as they
 * are; GraphQL's own request errors (syntax, validation, variables) get
 * BAD_USER_INPUT; anything else becomes INTERNAL_SERVER_ERROR carrying the
 * request id, logged in full on our side and never shown to the client.
 */
import { GraphQLError, type ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import { ErrorCode } from '../core/codes.ts';
import type { Logger } from '../core/logger.ts';
import { lastLineOf } from '../utils/error-text.ts';

const knownCodes = new Set<string>(Object.values(ErrorCode));

/**
 * Codes for a database that cannot be reached, logged into or found: Prisma's,
 * and for the direct statements the socket's and PostgreSQL's own (connection
 * failures 08xxx, shutting down 57P0x).
 */
const databaseDownCodes = new Set(['P1000', 'P1001', 'P1002', 'P1003', 'P1008', 'P1011', 'P1017', 'P2024', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03']);
/** What node-postgres says when a connection drops, cannot be had from its pool in time, or a statement's answer does not come in time. */
const driverDownMessage = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout)/;

/**
 * Which backing service `error` says is unreachable (PostgreSQL through
 * Prisma or the pg driver, Redis through ioredis failing fast or timing
 * out), or null for any other fault.
 */
export function unavailableService(error: unknown): 'database' | 'redis' | null {
  const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return null;
  if (e.name === 'PrismaClientInitializationError' || (typeof e.code === 'string' && databaseDownCodes.has(e.code))) return 'database';
  if (typeof e.message === 'string' && driverDownMessage.test(e.message)) return 'database';
  if (e.name === 'MaxRetriesPerRequestError') return 'redis';
  if (typeof e.message === 'string' && /^(Stream isn't writeable and enableOfflineQueue options is false|Connection is closed\.|Command timed out)/.test(e.message)) return 'redis';
  return null;
}

/** Masks an error as described above; `context` (an operation's) names the request id, when there is one. */
export type ErrorMasker = (error: unknown, message: string, context?: unknown) => Error;

export function maskError(logger: Logger, requestIdOf: (context: unknown) => string | undefined): ErrorMasker {
  return (error: unknown, _message: string, context?: unknown): Error => {
    const graphqlError = error instanceof GraphQLError ? error : undefined;
    const original = graphqlError?.originalError;
    const code = (original instanceof GraphQLError ? original : graphqlError)?.extensions?.code;
    if (graphqlError && typeof code === 'string' && knownCodes.has(code)) {
      return new GraphQLError(graphqlError.message, {
        nodes: graphqlError.nodes,
        positions: graphqlError.positions,
        path: graphqlError.path,
        extensions: { ...(original instanceof GraphQLError ? original.extensions : graphqlError.extensions) },
      });
    }
    // GraphQL's own request errors: none of ours (those carry a code), e.g. a variable that fails
    // its type's coercion (a GraphQLError wrapping the scalar's GraphQLError).
    if (graphqlError && (original === undefined || original === null || (original instanceof GraphQLError && !original.originalError))) {
      // Keep Yoga's HTTP status (400 for a request it could not parse).
      const http = graphqlError.extensions?.http;
      return new GraphQLError(graphqlError.message, {
        nodes: graphqlError.nodes,
        positions: graphqlError.positions,
        path: graphqlError.path,
        extensions: { code: ErrorCode.BAD_USER_INPUT, ...(http ? { http } : {}) },
      });
    }
    if (original instanceof Error && original.name === 'PothosValidationError') {
      // Pothos refusing an argument it decodes (a malformed global ID): the caller's input is wrong.
      return new GraphQLError(original.message, { nodes: graphqlError?.nodes, positions: graphqlError?.positions, path: graphqlError?.path, extensions: { code: ErrorCode.BAD_USER_INPUT } });
    }
    const requestId = requestIdOf(context);
    const down = unavailableService(original ?? error);
    if (down) {
      // An outage, not a bug: one short line, and a message the client can act on.
      logger.warn({ service: down, err: lastLineOf(original ?? error), requestId, path: graphqlError?.path }, 'service unavailable');
      return new GraphQLError('Service temporarily unavailable; try again shortly.', {
        path: graphqlError?.path,
        extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, unavailable: down, ...(requestId ? { requestId } : {}) },
      });
    }
    logger.error({ err: original ?? error, requestId, path: graphqlError?.path }, 'internal error');
    return new GraphQLError('Internal server error.', {
      path: graphqlError?.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, ...(requestId ? { requestId } : {}) },
    });
  };
}

/**
 * GraphQL's own request errors (syntax, validation, query limits) as a
 * graphql-ws `error` message sends them, which bypasses Yoga's masking:
 * each keeps a known code or gets BAD_USER_INPUT; anything unexpected is
 * masked as INTERNAL_SERVER_ERROR.
 */
export function requestErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((error) => {
    const code = error.extensions?.code;
    if (typeof code === 'string' && knownCodes.has(code)) return error;
    if (error.originalError) return new GraphQLError('Internal server error.', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } });
    return new GraphQLError(error.message, { nodes: error.nodes, positions: error.positions, extensions: { ...error.extensions, code: ErrorCode.BAD_USER_INPUT } });
  });
}

/**
 * Yoga plugin: validation errors (unknown fields, wrong arguments, query
 * limits) carry BAD_USER_INPUT. Yoga sends them without masking, over HTTP
 * and WebSocket alike, so the code is set where they are made.
 */
export function useValidationErrorCodes(): Plugin {
  return {
    onValidate() {
      return ({ valid, result }) => {
        if (valid) return;
        for (const error of result) {
          const extensions = error.extensions as Record<string, unknown>;
          if (!knownCodes.has(String(extensions.code))) extensions.code = ErrorCode.BAD_USER_INPUT;
        }
      };
    },
  };
}

/**
 * Yoga plugin: masks each operation's errors with its context, so that an
 * internal error names its request id, in the response and in the log line.
 * Yoga's own masking, which runs after this and has no context, passes them
 * on as they are (they carry a known code by then). The context is the one
 * place the id is known: an AsyncLocalStorage scope would do the same, but on
 * Node 20 it turns on a promise hook for the whole process from its first
 * use, about a tenth of a message's CPU time (the bench's fan-out).
 */
export function useErrorRequestIds(mask: ErrorMasker): Plugin {
  const message = 'Unexpected error.';
  const masked = (context: unknown) => (payload: { result: ExecutionResult; setResult: (result: ExecutionResult) => void }) => {
    const { result, setResult } = payload;
    if (result.errors) setResult({ ...result, errors: result.errors.map((error) => mask(error, message, context) as GraphQLError) });
  };
  return {
    onExecute: ({ args }) => ({ onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, masked(args.contextValue)) }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, masked(args.contextValue)),
      onSubscribeError: ({ error, setError }) => setError(mask(error, message, args.contextValue)),
    }),
  };
}
