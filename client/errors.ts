/** The errors the SDK throws, and the second step a login may ask for. */

/** A GraphQL error answer; `code` is the first error's extensions.code. */
export class GraphQLRequestError extends Error {
  override name = 'GraphQLRequestError';
  readonly code: string | undefined;
  constructor(readonly errors: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>) {
    super(errors.map((e) => e.message).join('; ') || 'GraphQL error');
    this.code = errors[0]?.extensions?.code as string | undefined;
  }
}

/**
 * What `login` was answered when the password was right but a second step is due: SECOND_FACTOR_REQUIRED
 * (`enrolment` false: send a code) or SECOND_FACTOR_ENROLMENT_REQUIRED (`enrolment` true: an admin under
 * ADMIN_REQUIRE_2FA must enrol first, with `enrolSecondFactor(challenge)` and `confirmSecondFactor(code, challenge)`).
 */
export interface SecondFactorChallenge {
  challenge: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  enrolment: boolean;
}

/** The challenge an error carries when it is SECOND_FACTOR_REQUIRED or SECOND_FACTOR_ENROLMENT_REQUIRED; else null. */
export function secondFactorChallenge(error: unknown): SecondFactorChallenge | null {
  if (!(error instanceof GraphQLRequestError)) return null;
  if (error.code !== 'SECOND_FACTOR_REQUIRED' && error.code !== 'SECOND_FACTOR_ENROLMENT_REQUIRED') return null;
  const extensions = error.errors[0]?.extensions ?? {};
  if (typeof extensions.challenge !== 'string') return null;
  return { challenge: extensions.challenge, expiresAt: Date.parse(String(extensions.challengeExpiresAt)), enrolment: error.code === 'SECOND_FACTOR_ENROLMENT_REQUIRED' };
}

/** What `login` calls for a code when the account has a second factor: resolve with the app's 6 digits or a recovery code. */
export type SecondFactorPrompt = (challenge: SecondFactorChallenge) => Promise<string>;

/** The request did not get a GraphQL answer (network, proxy, server down). */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** Whether a GraphQL answer refused for want of a DPoP proof (the server's DPOP_REQUIRED). */
export const wantsDpop = (error: unknown): boolean =>
  error instanceof GraphQLRequestError && error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED' && e.extensions?.reason === 'DPOP_REQUIRED');

/** The seconds to wait before sending again, when `error` is a send refused because the server was overloaded; else undefined. */
export function refusedForLoad(error: unknown): number | undefined {
  if (!(error instanceof GraphQLRequestError) || error.code !== 'RATE_LIMITED') return undefined;
  const extensions = error.errors[0]?.extensions ?? {};
  return extensions.reason === 'overloaded' ? Math.max(0, Number(extensions.retryAfter) || 1) : undefined;
}
