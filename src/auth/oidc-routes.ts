/**
 * The HTTP side of sign-in through an OpenID Connect provider (the rules are
 * src/auth/oidc.ts's):
 * - GET /auth/providers: `{ providers: [{ id, name, start }] }`, empty when
 *   OIDC is not configured; the web page shows a button per entry.
 * - GET /auth/oidc/start: redirects to the provider, with a short-lived
 *   HttpOnly cookie that ties the sign-in to this browser. `?dpop_jkt=` (the
 *   RFC 7638 thumbprint of the client's DPoP key, as RFC 9449 section 10 has
 *   it for an authorization request) binds the session to that key; under
 *   DPOP_REQUIRED a start without it fails with `dpop_required`.
 * - GET /auth/oidc/callback: finishes it, sets the refresh cookie and
 *   redirects to the web page with `#oidc=signed-in`, where the page spends
 *   that cookie on a `refresh` (src/web/page/app.ts); on failure the page gets
 *   `#oidc-error=<reason>` (reasons: `oidcFailures` in src/auth/oidc.ts).
 *
 * The sign-in cookie is SameSite=Lax, not Strict: the provider sends the
 * browser back from its own site, and a browser sends Strict cookies on no
 * navigation that another site started. It is scoped to /auth/oidc and
 * expires with the sign-in.
 */
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../core/config.ts';
import { ErrorCode, OidcPaths } from '../core/codes.ts';
import type { Logger } from '../core/logger.ts';
import { ownOrigin } from '../plugins/origin.ts';
import { OidcError, SIGN_IN_TTL, type OidcSignIn } from './oidc.ts';
import { cookieFromHeader, refreshCookieHeader } from './refresh-cookie.ts';
import type { Origin } from './accounts.ts';

/** The cookie holding a started sign-in's browser key. */
export const OIDC_COOKIE = 'sb_oidc';

/** A SHA-256 RFC 7638 thumbprint in base64url: what `dpop_jkt` must be. */
const thumbprintShape = /^[A-Za-z0-9_-]{43}$/;

export interface OidcRoutesDeps {
  /** Null when OIDC is not configured: the providers list is empty and the other routes answer 404. */
  oidc: OidcSignIn | null;
  config: Pick<Config, 'OIDC_REDIRECT_URL' | 'TLS_CERT'>;
  logger: Logger;
}

interface NodeServerContext {
  req?: { socket?: { remoteAddress?: string } };
}

const json = (fetchAPI: { Response: typeof Response }, status: number, body: unknown) =>
  new fetchAPI.Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });

const signInCookie = (value: string, maxAgeSeconds: number, secure: boolean) =>
  [`${OIDC_COOKIE}=${value}`, `Path=${OidcPaths.cookiePath}`, `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Lax', ...(secure ? ['Secure'] : [])].join('; ');

/** Yoga plugin: the three routes above. */
export function useOidcRoutes({ oidc, config, logger }: OidcRoutesDeps): Plugin {
  /** The callback URL the provider must send the browser back to: OIDC_REDIRECT_URL, else this server's own. */
  const redirectUriOf = (url: URL) => config.OIDC_REDIRECT_URL ?? `${ownOrigin(url)}${OidcPaths.callback}`;
  /** The web page the browser ends up on: beside the callback's path (a proxy may put a prefix before both). */
  const pageOf = (url: URL) => {
    const callback = new URL(redirectUriOf(url));
    return `${callback.origin}${callback.pathname.slice(0, -OidcPaths.callback.length)}/`;
  };
  // The public URL decides, behind a TLS-terminating proxy too.
  const secureFor = (url: URL) => Boolean(config.TLS_CERT) || redirectUriOf(url).startsWith('https:');

  return {
    async onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      const path = url.pathname;
      if (path !== OidcPaths.providers && path !== OidcPaths.start && path !== OidcPaths.callback) return;
      // HEAD only for the list: a HEAD start would take a place in the budget for nothing.
      if (request.method !== 'GET' && !(request.method === 'HEAD' && path === OidcPaths.providers)) {
        endResponse(json(fetchAPI, 405, { errors: [{ message: 'Use GET.', extensions: { code: ErrorCode.BAD_USER_INPUT } }] }));
        return;
      }
      if (path === OidcPaths.providers) {
        endResponse(json(fetchAPI, 200, { providers: oidc ? [{ id: 'oidc', name: oidc.providerName, start: OidcPaths.start }] : [] }));
        return;
      }
      if (!oidc) {
        endResponse(json(fetchAPI, 404, { errors: [{ message: 'Sign-in through an identity provider is not configured (OIDC_ISSUER).', extensions: { code: ErrorCode.NOT_FOUND } }] }));
        return;
      }
      const origin: Origin = { ip: (serverContext as NodeServerContext | undefined)?.req?.socket?.remoteAddress ?? null, userAgent: request.headers.get('user-agent') };
      const secure = secureFor(url);
      const redirect = (location: string, cookies: string[]) => {
        const headers = new fetchAPI.Headers({ location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
        for (const value of cookies) headers.append('set-cookie', value);
        return new fetchAPI.Response(null, { status: 303, headers });
      };
      const failed = (error: unknown, cookies: string[]) => {
        if (!(error instanceof OidcError)) logger.error({ err: error }, 'oidc: sign-in failed');
        const reason = error instanceof OidcError ? error.reason : 'server_error';
        return redirect(`${pageOf(url)}#oidc-error=${reason}`, cookies);
      };

      if (path === OidcPaths.start) {
        const jkt = url.searchParams.get('dpop_jkt');
        if (jkt !== null && !thumbprintShape.test(jkt)) {
          endResponse(json(fetchAPI, 400, { errors: [{ message: 'dpop_jkt must be the base64url SHA-256 thumbprint (RFC 7638) of the client’s DPoP public key.', extensions: { code: ErrorCode.BAD_USER_INPUT } }] }));
          return;
        }
        try {
          const { authorizationUrl, browserKey } = await oidc.begin(redirectUriOf(url), { ...origin, jkt });
          endResponse(redirect(authorizationUrl.href, [signInCookie(browserKey, SIGN_IN_TTL, secure)]));
        } catch (error) {
          endResponse(failed(error, []));
        }
        return;
      }

      // The callback: the sign-in cookie goes whatever happens, it is used once.
      const cleared = signInCookie('', 0, secure);
      try {
        const { session } = await oidc.complete(cookieFromHeader(request.headers.get('cookie'), OIDC_COOKIE), url.searchParams, origin);
        endResponse(redirect(`${pageOf(url)}#oidc=signed-in`, [cleared, refreshCookieHeader(session.refreshToken, session.refreshTokenExpiresAt, secure)]));
      } catch (error) {
        endResponse(failed(error, [cleared]));
      }
    },
  };
}
