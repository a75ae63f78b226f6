/**
 * `useWebPage()`: serves the web page at / (HTML, its stylesheet and its
 * bundled ES module) from src/web/page/, with a strict Content Security
 * Policy: scripts and connections from this origin only, no inline script.
 */
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'graphql-yoga';
import { browserBundle, webPath } from './bundle.ts';

const csp = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  type: string;
  body(): Promise<string>;
}

const file = (name: string) => () => readFile(webPath(`page/${name}`), 'utf8');

const assets: Record<string, Asset> = {
  '/': { type: 'text/html; charset=utf-8', body: file('index.html') },
  '/style.css': { type: 'text/css; charset=utf-8', body: file('style.css') },
  '/app.js': { type: 'text/javascript; charset=utf-8', body: () => browserBundle(webPath('page/app.ts')) },
};

/** Serves the web page and its assets on GET (and HEAD). */
export function useWebPage(): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      const asset = assets[url.pathname];
      if (!asset || (request.method !== 'GET' && request.method !== 'HEAD')) return;
      const body = await asset.body();
      endResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : body, {
          status: 200,
          headers: {
            'content-type': asset.type,
            'cache-control': 'no-cache',
            'x-content-type-options': 'nosniff',
            'content-security-policy': csp,
          },
        }),
      );
    },
  };
}
