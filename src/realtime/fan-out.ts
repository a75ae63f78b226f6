/**
 * Shared fan-out. Out of the box, a subscription event that reaches a
 * thousand sockets is executed by GraphQL a thousand times and serialized a
 * thousand times. Here the subscribe step still runs per subscriber (access
 * is checked per viewer), but each event object is executed once per
 * audience (the same document, variables, and as much of the viewer as the
 * document can see), and its result serialized once.
 *
 * Sharing needs the event itself to be shared: a source stream hands every
 * subscriber the same object for the same event (see the room feed).
 */
import {
  createSourceEventStream,
  execute,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import type { Context } from '../context.ts';

/**
 * Marks a field whose value depends on who asks beyond their roles (e.g. a
 * user's own email): documents selecting one are executed per viewer.
 */
export const perViewer = { perViewer: true } as const;

const documentIds = new WeakMap<DocumentNode, number>();
const perViewerDocuments = new WeakMap<DocumentNode, boolean>();
/** event -> audience -> its result (the promise, so concurrent subscribers wait for one execution). */
const sharedResults = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
const results = new WeakSet<ExecutionResult>();
const serialized = new WeakMap<ExecutionResult, string>();
let nextDocumentId = 0;

function selectsPerViewerField(schema: GraphQLSchema, document: DocumentNode): boolean {
  let found = perViewerDocuments.get(document);
  if (found !== undefined) return found;
  found = false;
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        if (typeInfo.getFieldDef()?.extensions?.perViewer) found = true;
      },
    }),
  );
  perViewerDocuments.set(document, found);
  return found;
}

/** Who sees the same result: document, operation, variables, roles, and the user when the document asks per-viewer fields. */
function audienceOf(args: ExecutionArgs): string {
  let documentId = documentIds.get(args.document);
  if (documentId === undefined) documentIds.set(args.document, (documentId = ++nextDocumentId));
  const viewer = (args.contextValue as Context | undefined)?.viewer;
  const roles = viewer ? [...viewer.roles].sort().join(',') : '-';
  const user = viewer && selectsPerViewerField(args.schema, args.document) ? viewer.userId : '';
  return `${documentId}\n${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? null)}\n${roles}\n${user}`;
}

async function executeEvent(args: ExecutionArgs, event: unknown): Promise<ExecutionResult> {
  return execute({ ...args, rootValue: event });
}

function executeShared(args: ExecutionArgs, audience: string, event: unknown): Promise<ExecutionResult> {
  if (typeof event !== 'object' || event === null) return executeEvent(args, event);
  let byAudience = sharedResults.get(event);
  if (!byAudience) sharedResults.set(event, (byAudience = new Map()));
  let shared = byAudience.get(audience);
  if (!shared) {
    shared = executeEvent(args, event);
    byAudience.set(audience, shared);
  }
  return shared.then((result) => {
    // Errors carry the subscriber's own request id once masked: those are never shared.
    if (result.errors) return executeEvent(args, event);
    results.add(result);
    return result;
  });
}

async function subscribeShared(args: ExecutionArgs) {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source;
  const audience = audienceOf(args);
  return mapAsyncIterator(source, (event) => executeShared(args, audience, event));
}

/**
 * The JSON of a result shared by several subscribers, made on first use.
 * Undefined for a result that belongs to one subscriber.
 */
export function sharedJson(result: unknown): string | undefined {
  if (!results.has(result as ExecutionResult)) return undefined;
  let json = serialized.get(result as ExecutionResult);
  if (json === undefined) serialized.set(result as ExecutionResult, (json = JSON.stringify(result)));
  return json;
}

/** Subscriptions (WebSocket and SSE) execute each event once per audience. */
export function useSharedFanOut(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribeShared as Parameters<typeof setSubscribeFn>[0]);
    },
  };
}
