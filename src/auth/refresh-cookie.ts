/**
 * The refresh token and the device token (src/auth/devices.ts) as HttpOnly,
 * SameSite=Strict cookies (Secure under TLS), scoped to the GraphQL path:
 * resolvers queue a cookie for their HTTP request, and the
 * `useRefreshCookie` plugin writes it onto the response.
 */
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.ts';
import { CSRF_HEADER } from '../core/codes.ts';
import { hasCsrfHeader } from '../plugins/csrf.ts';
import { forbidden } from '../core/errors.ts';

/** The cookie's name. */
export const REFRESH_COOKIE = 'sb_refresh';
/** The device token's cookie. */
export const DEVICE_COOKIE = 'sb_device';
const COOKIE_PATH = '/graphql';

/** Set-Cookie values waiting for their request's response. */
const pending = new WeakMap<Request, string[]>();

function queue(request: Request, value: string): void {
  const list = pending.get(request) ?? [];
  list.push(value);
  pending.set(request, list);
}

const isSecure = (ctx: Context): boolean => Boolean(ctx.app.config.TLS_CERT) || ctx.request?.url.startsWith('https:') === true;

function cookie(ctx: Context, value: string, maxAgeSeconds: number, name = REFRESH_COOKIE): string {
  return cookieHeader(name, value, maxAgeSeconds, isSecure(ctx));
}

const cookieHeader = (name: string, value: string, maxAgeSeconds: number, secure: boolean): string =>
  [`${name}=${value}`, `Path=${COOKIE_PATH}`, `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])].join('; ');

/** The Set-Cookie value of the refresh cookie, for a response written outside GraphQL (src/auth/oidc-routes.ts). */
export const refreshCookieHeader = (token: string, expiresAt: Date, secure: boolean): string =>
  cookieHeader(REFRESH_COOKIE, token, Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000)), secure);

/** Sets the refresh cookie on the HTTP response (nothing over WebSocket, which has no response headers). */
export function setRefreshCookie(ctx: Context, token: string, expiresAt: Date): void {
  if (!ctx.request) return;
  queue(ctx.request, cookie(ctx, token, Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000))));
}

/** Sets the device cookie on the HTTP response. */
export function setDeviceCookie(ctx: Context, token: string, expiresAt: Date): void {
  if (!ctx.request) return;
  queue(ctx.request, cookie(ctx, token, Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000)), DEVICE_COOKIE));
}

/** Removes the refresh cookie from the client. */
export function clearRefreshCookie(ctx: Context): void {
  if (!ctx.request) return;
  queue(ctx.request, cookie(ctx, '', 0));
}

/** The value of the request's cookie `name`, else null. */
function cookieValue(ctx: Context, name: string): string | null {
  return cookieFromHeader(ctx.request?.headers.get('cookie'), name);
}

/** The value of cookie `name` in a Cookie header, else null. */
export function cookieFromHeader(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/**
 * The refresh token the request's cookie carries, else null. A request that
 * carries the cookie without CSRF_HEADER is refused (FORBIDDEN): a browser
 * attaches the cookie to a page's request wherever the page came from, but
 * sends the header cross-site only after a preflight, which a foreign origin
 * fails (src/plugins/origin.ts).
 */
export function refreshTokenFromCookie(ctx: Context): string | null {
  const token = cookieValue(ctx, REFRESH_COOKIE);
  if (token && !hasCsrfHeader(ctx.request!)) throw forbidden(`A refresh with the cookie needs the ${CSRF_HEADER} header (send "${CSRF_HEADER}: 1"), or pass refreshToken.`);
  return token;
}

/** The device token the request's cookie carries, else null. */
export const deviceTokenFromCookie = (ctx: Context): string | null => cookieValue(ctx, DEVICE_COOKIE);

/** Writes the cookies resolvers queued onto the response. */
export function useRefreshCookie(): Plugin {
  return {
    onResponse({ request, response }) {
      const cookies = pending.get(request);
      if (!cookies) return;
      pending.delete(request);
      for (const value of cookies) response.headers.append('set-cookie', value);
    },
  };
}
