/**
 * GraphiQL at GET /graphql without any CDN: the page Yoga renders
 * (`renderLocalGraphiQL`, given to createYoga's `renderGraphiQL`) loads its
 * script, stylesheet and editor workers from this server
 * (`useGraphiQLAssets()`, taken from @graphql-yoga/render-graphiql), and a
 * fetcher that runs subscriptions over graphql-ws with the token from the
 * headers editor (src/web/graphiql-fetcher.ts).
 */
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import { browserBundle, webPath } from '../web/bundle.ts';

/** Where the assets are served. */
const base = '/graphiql';

type Assets = typeof import('@graphql-yoga/render-graphiql/graphiql');
let assets: Promise<Assets> | undefined;
// 9 MB of JavaScript: loaded on the first GraphiQL request, not at start.
const loadAssets = () => (assets ??= import('@graphql-yoga/render-graphiql/graphiql'));

const workers = { editorWorkerService: 'editorWorkerService', json: 'jsonWorker', graphql: 'graphqlWorker' } as const;

/** Where Monaco (GraphiQL's editor) finds its workers; run before graphiql.js. */
const monacoEnvironment = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (moduleId, label) {
    return '${base}/worker/' + label + '.js';
  },
};
`;

const routes: Record<string, { type: string; body(): Promise<string> }> = {
  [`${base}/monaco-environment.js`]: { type: 'text/javascript', body: async () => monacoEnvironment },
  [`${base}/start.js`]: { type: 'text/javascript', body: () => browserBundle(webPath('graphiql-start.ts')) },
  [`${base}/graphiql.js`]: { type: 'text/javascript', body: async () => (await loadAssets()).js },
  [`${base}/graphiql.css`]: { type: 'text/css', body: async () => (await loadAssets()).css },
  [`${base}/fetcher.js`]: { type: 'text/javascript', body: () => browserBundle(webPath('graphiql-fetcher.ts')) },
  ...Object.fromEntries(
    Object.entries(workers).map(([label, name]) => [`${base}/worker/${label}.js`, { type: 'text/javascript', body: async () => (await loadAssets())[name] }]),
  ),
};

/** The query GraphiQL opens with: how to authenticate, and a subscription to try. */
const defaultQuery = `# Switchboard GraphiQL
#
# 1. Sign in with the mutation below and copy accessToken.
# 2. In the Headers tab put: { "Authorization": "Bearer <accessToken>" }
#    HTTP requests send it as a header; subscriptions send it over
#    graphql-ws as the connection params.
# 3. Run "Slots" (a subscription) and watch the seats change.

mutation Login {
  login(input: { login: "alice", password: "correct horse battery" }) {
    accessToken
  }
}

subscription Slots {
  connectionSlots { used max available }
}
`;

const escapeJsonForScript = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** The GraphiQL page (Yoga's `renderGraphiQL` option): no inline script, its options as a JSON block that src/web/graphiql-start.ts reads. */
export function renderLocalGraphiQL(options: GraphiQLOptions = {}): string {
  const title = (options.title ?? 'GraphiQL').replace(/[<&"]/g, '');
  const opts = { defaultQuery, ...options };
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${title}</title>
    <link rel="stylesheet" href="${base}/graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-options">${escapeJsonForScript(opts)}</script>
    <script src="${base}/monaco-environment.js"></script>
    <script src="${base}/graphiql.js"></script>
    <script type="module" src="${base}/start.js"></script>
  </body>
</html>`;
}

/**
 * GraphiQL's page's security headers, as strict as the web page's
 * (src/web/plugin.ts) where GraphiQL still runs: its editor sets inline
 * styles, and it loads fonts and images as data: URLs.
 */
export const graphiqlSecurityHeaders: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; worker-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/**
 * Serves GraphiQL's script, stylesheet, workers and fetcher under /graphiql/,
 * and gives the page Yoga renders at `endpoint` its security headers.
 */
export function useGraphiQLAssets(endpoint = '/graphql'): Plugin {
  return {
    onResponse({ request, response }) {
      if (request.method !== 'GET' || new URL(request.url).pathname !== endpoint) return;
      if (!response.headers.get('content-type')?.startsWith('text/html')) return;
      for (const [name, value] of Object.entries(graphiqlSecurityHeaders)) response.headers.set(name, value);
    },
    async onRequest({ request, url, endResponse, fetchAPI }) {
      const route = routes[url.pathname];
      if (!route || request.method !== 'GET') return;
      endResponse(
        new fetchAPI.Response(await route.body(), {
          headers: { 'content-type': `${route.type}; charset=utf-8`, 'cache-control': 'public, max-age=3600', 'x-content-type-options': 'nosniff' },
        }),
      );
    },
  };
}
