/**
 * Accounts for tests, made the way a client makes them: register, then log
 * in, over real HTTP.
 */
import type { SessionEndReason } from '../../src/core/codes.ts';
import { withDatabase } from './env.ts';
import { gql, uniqueName, type TestServer } from './server.ts';

export interface TestAccount {
  /** The user's global ID. */
  id: string;
  username: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: string;
  refreshTokenExpiresAt: string;
  user: { id: string; username: string; email: string | null; roles: string[] };
}

export const LOGIN = `mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt user { id username email roles } }
}`;

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { id username email roles createdAt } }`;

/** Logs in; throws with the server's errors when refused. */
export async function logIn(server: Pick<TestServer, 'graphqlUrl'>, login: string, password: string): Promise<Tokens> {
  const response = await gql<{ login: Tokens }>(server, LOGIN, { input: { login, password } });
  if (!response.data?.login) throw new Error(`login failed: ${JSON.stringify(response.errors)}`);
  return response.data.login;
}

/** Registers a new user (unique name unless given) and logs it in. */
export async function signUp(
  server: Pick<TestServer, 'graphqlUrl'>,
  options: { username?: string; password?: string; email?: string } = {},
): Promise<TestAccount> {
  const username = options.username ?? uniqueName('u');
  const password = options.password ?? `pw-${uniqueName('p')}`;
  const email = options.email ?? `${username}@example.test`;
  const registered = await gql<{ register: { id: string } }>(server, REGISTER, { input: { username, email, password } });
  if (!registered.data?.register) throw new Error(`register failed: ${JSON.stringify(registered.errors)}`);
  const tokens = await logIn(server, username, password);
  return {
    id: registered.data.register.id,
    username,
    email,
    password,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: tokens.accessTokenExpiresAt,
  };
}

/** The claims of a JWT (not verified). */
export const claimsOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

/** Ends the session of `accessToken` in PostgreSQL alone, for `reason`: what an instance that died right after its commit leaves behind. */
export const endSessionInDatabaseOnly = (accessToken: string, reason: SessionEndReason = 'revoked') =>
  withDatabase((client) => client.query(`UPDATE "Session" SET "revokedAt" = now(), "revokedReason" = $2 WHERE id = $1`, [claimsOf(accessToken).sid, reason]));
