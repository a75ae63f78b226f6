/**
 * The one helper that makes client-facing errors: each carries its
 * `extensions.code`, plus any extra extensions such as `field` or
 * `retryAfter`. Anything else thrown is masked as INTERNAL_SERVER_ERROR.
 * Field errors travel with HTTP 200 (GraphQL over HTTP, application/json);
 * `httpStatusOf` is for refusals of a whole request.
 */
import { GraphQLError } from 'graphql';
import { ErrorCode } from './codes.ts';

export function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export const badInput = (field: string, message: string) => appError(ErrorCode.BAD_USER_INPUT, message, { field });
export const unauthenticated = (message = 'Sign in first.') => appError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message = 'You may not do that.') => appError(ErrorCode.FORBIDDEN, message);
export const notFound = (what: string) => appError(ErrorCode.NOT_FOUND, `${what} not found.`);
export const conflict = (field: string, message: string) => appError(ErrorCode.CONFLICT, message, { field });
/** Whether `error` is one of ours carrying one of these codes. */
export const hasCode = (error: unknown, ...codes: ErrorCode[]): boolean =>
  error instanceof GraphQLError && codes.includes(error.extensions.code as ErrorCode);
export const rateLimited = (retryAfterSeconds: number, message = 'Too many attempts; try again later.') =>
  appError(ErrorCode.RATE_LIMITED, message, { retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)) });
