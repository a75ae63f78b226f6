/**
 * Starts GraphiQL on the page src/plugins/graphiql.ts renders, as a script of
 * this origin (the page's Content Security Policy allows no inline script):
 * reads the options the page carries as JSON and renders Yoga's GraphiQL
 * (loaded before, from /graphiql/graphiql.js) with our fetcher.
 */
import { createFetcher } from './graphiql-fetcher.ts';

declare const YogaGraphiQL: { renderYogaGraphiQL(root: Element, options: Record<string, unknown>): void };

const options = JSON.parse(document.getElementById('graphiql-options')?.textContent ?? '{}') as Record<string, unknown>;
const endpoint = new URL(location.pathname, location.href).toString();
YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root')!, { ...options, fetcher: createFetcher(endpoint) });
