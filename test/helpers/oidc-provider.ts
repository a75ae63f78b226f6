/**
 * A real OpenID Connect provider for tests (the `oidc-provider` package) on
 * 127.0.0.2: another site than the servers under test on 127.0.0.1, as a
 * real provider is, so a browser applies its cross-site cookie rules. Its
 * accounts are set by the test; its login step signs in as the account
 * named by `signInAs` (or is declined when it is null), consent is given at once.
 * Its login step is a page with a Continue button (a form post), as a real
 * provider's is. It signs ID tokens with RS256 and gives the email claims through UserInfo.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** An account at the provider: its subject and the claims it gives. */
export interface IdpAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  preferred_username?: string;
  name?: string;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The next login step signs in as this subject; null: the person declines (access_denied). */
  signInAs: string | null;
  /** Seconds an authorization code lives. @default 60 */
  codeTtl: number;
  /** Adds (or replaces) an account. */
  addAccount(account: IdpAccount): void;
  /** Registers the client's redirect URIs (a server's callback); the provider starts anew with them. */
  allowRedirects(...uris: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Starts the provider; call `allowRedirects` with each server's callback before signing in. */
export async function startIdp(host = '127.0.0.2'): Promise<TestIdp> {
  const accounts = new Map<string, IdpAccount>();
  const redirects = new Set<string>();
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-key' };
  const server = http.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`;
  let provider: Provider | undefined;

  const idp: TestIdp = {
    issuer,
    clientId: 'switchboard-test',
    clientSecret: 'switchboard-test-client-secret-0123456789',
    signInAs: null,
    codeTtl: 60,
    addAccount(account) {
      accounts.set(account.sub, account);
    },
    async allowRedirects(...uris) {
      for (const uri of uris) redirects.add(uri);
      provider = createProvider();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  function createProvider(): Provider {
    return new Provider(issuer, {
      clients: [
        {
          client_id: idp.clientId,
          client_secret: idp.clientSecret,
          redirect_uris: [...redirects],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [signingKey] },
      cookies: { keys: ['test-idp-cookie-key-0123456789'] },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username', 'name'] },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      ttl: {
        AuthorizationCode: () => idp.codeTtl,
        AccessToken: 600,
        IdToken: 600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
      async findAccount(_ctx, sub) {
        const account = accounts.get(sub);
        if (!account) return undefined;
        return { accountId: sub, claims: async () => ({ ...account }) };
      },
    });
  }

  /**
   * Login: a page of the provider's own with one button (#continue), whose form post signs in as `signInAs`; so the
   * way back to the client starts on the provider's site, as with a real provider. Consent is given at once.
   */
  async function interaction(req: http.IncomingMessage, res: http.ServerResponse, current: Provider) {
    const details = await current.interactionDetails(req, res);
    if (details.prompt.name === 'login' && req.method === 'GET') {
      const action = `/interaction/${encodeURIComponent(details.uid)}`;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Test IdP</title><form method="post" action="${action}"><button id="continue" type="submit">Continue</button></form>`);
      return;
    }
    if (details.prompt.name === 'login') {
      req.resume();
      const result = idp.signInAs ? { login: { accountId: idp.signInAs } } : { error: 'access_denied', error_description: 'The person declined.' };
      await current.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
      return;
    }
    const grant = new current.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
    grant.addOIDCScope(String(details.params.scope));
    await current.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
  }

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const current = provider;
    if (!current) {
      res.writeHead(503).end('no client registered yet: call allowRedirects');
      return;
    }
    if (req.url?.startsWith('/interaction/')) {
      interaction(req, res, current).catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
      return;
    }
    current.callback()(req, res);
  });

  return idp;
}
