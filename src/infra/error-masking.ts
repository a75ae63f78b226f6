/**
 * Error masking for Yoga: errors we made (with a known code) pass as they
 * are; GraphQL's own request errors (syntax, validation, variables) get
 * BAD_USER_INPUT; anything else becomes INTERNAL_SERVER_ERROR carrying the
 * request id, logged in full on our side and never shown to the client.
 */
import { GraphQLError } from 'graphql';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import { ErrorCode } from './codes.ts';
import type { Logger } from './logger.ts';

const knownCodes = new Set<string>(Object.values(ErrorCode));

export function maskError(logger: Logger, requestIdOf: (context: unknown) => string | undefined) {
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
    if (graphqlError && (original === undefined || original === null)) {
      // Keep Yoga's HTTP status (400 for a request it could not parse).
      const http = graphqlError.extensions?.http;
      return new GraphQLError(graphqlError.message, {
        nodes: graphqlError.nodes,
        positions: graphqlError.positions,
        path: graphqlError.path,
        extensions: { code: ErrorCode.BAD_USER_INPUT, ...(http ? { http } : {}) },
      });
    }
    const requestId = requestIdOf(context);
    logger.error({ err: original ?? error, requestId, path: graphqlError?.path }, 'internal error');
    return new GraphQLError('Internal server error.', {
      path: graphqlError?.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, ...(requestId ? { requestId } : {}) },
    });
  };
}

export function maskedErrorsOptions(logger: Logger, requestIdOf: (context: unknown) => string | undefined): YogaServerOptions<object, object>['maskedErrors'] {
  return { isDev: false, maskError: maskError(logger, requestIdOf) };
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
