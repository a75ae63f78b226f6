/**
 * Shared fan-out. Out of the box, a subscription event that reaches a
 * thousand sockets is executed by GraphQL a thousand times, serialized a
 * thousand times, and walks a thousand async iterators. Here the subscribe
 * step still runs per subscriber (access is checked per viewer), but:
 *
 * - each event object is executed once per audience (the same document,
 *   the same variables below the root field, and as much of the viewer as
 *   the document can see) and its result serialized once;
 * - over graphql-ws, once a subscriber's stream has nothing queued, the
 *   stream hands its events off ({@link HandsOff}): they are then written
 *   straight to the socket, a batch per event per audience, with no
 *   iterator, promise or `JSON.stringify` per subscriber.
 *
 * Sharing needs the event itself to be shared: a source stream hands every
 * subscriber the same object for the same event (see messages/live.ts). The
 * root field's arguments choose the stream (which room, from which cursor);
 * a subscription field's `resolve` must not depend on them.
 */
import {
  createSourceEventStream,
  execute,
  GraphQLError,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLField,
  type GraphQLSchema,
} from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import type { Context, NextWriter } from '../context.ts';
import type { ErrorMasker } from '../plugins/error-masking.ts';
import type { Logger } from '../core/logger.ts';
import { isHandsOff, type EventStream } from '../utils/event-stream.ts';
import { countSubscriptionEvent, subscribedField } from '../core/metrics.ts';

/**
 * Whether a field's value is the same for every viewer given the same
 * parent: a meta field (`__typename`), a field that only exposes a property
 * of its parent (Pothos' `expose*`), or one declared so with
 * `sameForEveryViewer` (src/builder.ts). Everything else is executed per
 * viewer, so a field added without thought is safe, only slower.
 */
export function isSameForEveryViewer(field: GraphQLField<unknown, unknown>): boolean {
  const extensions = field.extensions as Record<string, unknown> | undefined;
  return field.name.startsWith('__') || extensions?.pothosExposedField !== undefined || extensions?.sameForEveryViewer === true;
}


export interface SharedFanOutOptions {
  /** Masks an error of a result written straight to a socket, as Yoga masks the others. */
  maskError: ErrorMasker;
  /** Where a fault in delivering a batch is logged (the audience then carries on with the next event). */
  logger: Pick<Logger, 'error'>;
}

interface DocumentFacts {
  id: number;
  perViewer: boolean;
  /** Variables used below the root field (those used only in its arguments choose the stream, not the result). */
  resultVariables: string[];
  field: string;
}

const documentFacts = new WeakMap<DocumentNode, DocumentFacts>();
/** event -> audience -> its result (the promise, so concurrent subscribers wait for one execution). */
const sharedResults = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();
let nextDocumentId = 0;

function factsOf(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): DocumentFacts {
  let facts = documentFacts.get(document);
  if (facts) return facts;
  let selectsPerViewer = false;
  const resultVariables = new Set<string>();
  let depth = 0;
  let inRootArguments = false;
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field: {
        enter() {
          const field = typeInfo.getFieldDef();
          if (!field || !isSameForEveryViewer(field)) selectsPerViewer = true;
          depth++;
        },
        leave() {
          depth--;
        },
      },
      Argument: {
        enter() {
          inRootArguments = depth === 1;
        },
        leave() {
          inRootArguments = false;
        },
      },
      Variable(node, _key, parent) {
        const declaring = (parent as { kind?: string } | undefined)?.kind === Kind.VARIABLE_DEFINITION;
        if (!declaring && !inRootArguments) resultVariables.add(node.name.value);
      },
    }),
  );
  facts = { id: ++nextDocumentId, perViewer: selectsPerViewer, resultVariables: [...resultVariables].sort(), field: subscribedField(document, operationName) };
  documentFacts.set(document, facts);
  return facts;
}

/** Whether shared fan-out executes `document` per viewer: when it selects any field that is not the same for every viewer. */
export const executesPerViewer = (schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): boolean => factsOf(schema, document, operationName).perViewer;

/** Who sees the same result: document, operation, result variables, roles, and the user unless every field selected is the same for every viewer. */
function audienceOf(args: ExecutionArgs, facts: DocumentFacts): string {
  const viewer = (args.contextValue as Context | undefined)?.viewer;
  const roles = viewer ? [...viewer.roles].sort().join(',') : '-';
  const user = viewer && facts.perViewer ? viewer.userId : '';
  const variables = facts.resultVariables.map((name) => args.variableValues?.[name]);
  return `${facts.id}\n${args.operationName ?? ''}\n${JSON.stringify(variables)}\n${roles}\n${user}`;
}

async function executeEvent(args: ExecutionArgs, event: unknown): Promise<ExecutionResult> {
  return execute({ ...args, rootValue: event });
}

/** Only an object can be shared: a primitive event cannot key the caches below. */
const isShareable = (event: unknown): event is object => typeof event === 'object' && event !== null;

/** The event's result for `audience`, executed once (the promise, so that concurrent subscribers wait for the one execution). */
function sharedExecution(args: ExecutionArgs, audience: string, event: object): Promise<ExecutionResult> {
  let byAudience = sharedResults.get(event);
  if (!byAudience) sharedResults.set(event, (byAudience = new Map()));
  let shared = byAudience.get(audience);
  if (!shared) {
    shared = executeEvent(args, event);
    byAudience.set(audience, shared);
  }
  return shared;
}

/** The event's result for one subscriber: the shared one, or its own when that has errors (masked errors carry its request id). */
function executeShared(args: ExecutionArgs, audience: string, event: unknown): Promise<ExecutionResult> {
  if (!isShareable(event)) return executeEvent(args, event);
  return sharedExecution(args, audience, event).then((result) => (result.errors ? executeEvent(args, event) : result));
}

/** A subscriber whose events are written straight to its socket. */
interface Member {
  args: ExecutionArgs;
  write: NextWriter;
  active: boolean;
  /** The index of the last batch it joined: it never joins an earlier one (its own order comes first). */
  lastBatch: number;
}

/** One event on its way to the members of one audience. */
interface Batch {
  index: number;
  members: Member[];
}

/** The members of one audience: batches run one after another, so each member gets its events in order. */
interface Audience {
  key: string;
  field: string;
  size: number;
  chain: Promise<void>;
  nextBatch: number;
  open: WeakMap<object, Batch>;
}

const audiences = new Map<string, Audience>();

function joinAudience(key: string, field: string): Audience {
  let audience = audiences.get(key);
  if (!audience) audiences.set(key, (audience = { key, field, size: 0, chain: Promise.resolve(), nextBatch: 0, open: new WeakMap() }));
  audience.size++;
  return audience;
}

function leaveAudience(audience: Audience): void {
  if (--audience.size === 0 && audiences.get(audience.key) === audience) audiences.delete(audience.key);
}

function offer(audience: Audience, member: Member, event: unknown, options: SharedFanOutOptions): void {
  if (!member.active) return;
  let batch = isShareable(event) ? audience.open.get(event) : undefined;
  if (!batch || batch.index < member.lastBatch) {
    const created: Batch = { index: audience.nextBatch++, members: [] };
    batch = created;
    if (isShareable(event)) audience.open.set(event, created);
    // A fault in one batch must not stall the audience: it is logged and the next batch runs.
    audience.chain = audience.chain.then(() => deliver(audience, event, created, options.maskError)).catch((error: unknown) => options.logger.error({ err: error }, 'fan-out batch failed'));
  }
  batch.members.push(member);
  member.lastBatch = batch.index;
}

async function deliver(audience: Audience, event: unknown, batch: Batch, maskError: SharedFanOutOptions['maskError']): Promise<void> {
  const first = batch.members[0]!;
  let result: ExecutionResult | undefined;
  try {
    result = await (isShareable(event) ? sharedExecution(first.args, audience.key, event) : executeEvent(first.args, event));
  } catch {
    // Made again per member below, where the fault is masked and logged.
  }
  // From here on the batch is closed: a member offered this event now gets a batch of its own.
  if (isShareable(event) && audience.open.get(event) === batch) audience.open.delete(event);
  if (result && !result.errors) {
    const json = JSON.stringify(result);
    let written = 0;
    for (const member of batch.members) {
      if (!member.active) continue;
      member.write(json);
      written++;
    }
    countSubscriptionEvent(audience.field, result, written);
    return;
  }
  for (const member of batch.members) {
    if (!member.active) continue;
    const own = await executeEvent(member.args, event).catch((error: unknown) => ({ errors: [error as GraphQLError] }) as ExecutionResult);
    const masked = { ...own, errors: own.errors?.map((error) => maskError(error, 'Unexpected error.', member.args.contextValue)) };
    if (member.active) member.write(JSON.stringify(masked));
    countSubscriptionEvent(audience.field, masked, 1);
  }
}

/**
 * A subscription whose source hands its events off: what it yields itself
 * (events queued before the hand-off, a last item such as "lost access")
 * goes through graphql-ws as usual; the rest is written by its audience.
 */
function handedOff(source: EventStream<unknown>, args: ExecutionArgs, key: string, facts: DocumentFacts, write: NextWriter, options: SharedFanOutOptions): AsyncIterableIterator<ExecutionResult> {
  const audience = joinAudience(key, facts.field);
  const member: Member = { args, write, active: true, lastBatch: -1 };
  let handed = false;
  const leave = () => {
    if (!member.active) return;
    member.active = false;
    leaveAudience(audience);
  };
  return {
    async next() {
      // graphql-ws asks for the next event only once it has sent the previous one: handing off now keeps the order.
      if (!handed && member.active) handed = source.handOff((event) => offer(audience, member, event, options));
      const item = await source.next();
      if (item.done) {
        leave();
        return item;
      }
      // A last item: nothing handed off may follow it.
      if (handed) leave();
      return { done: false, value: await executeShared(args, key, item.value) };
    },
    async return() {
      leave();
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error) {
      leave();
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

function subscribeShared(options: SharedFanOutOptions) {
  return async (args: ExecutionArgs) => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const facts = factsOf(args.schema, args.document, args.operationName);
    const key = audienceOf(args, facts);
    const write = (args.contextValue as Context | undefined)?.writeNext;
    if (write && isHandsOff(source)) return handedOff(source, args, key, facts, write, options);
    return mapAsyncIterator(source, (event) => executeShared(args, key, event));
  };
}

/** Subscriptions (WebSocket and SSE) execute each event once per audience; over WebSocket, it is written once per audience too. */
export function useSharedFanOut(options: SharedFanOutOptions): Plugin {
  const subscribe = subscribeShared(options);
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe as Parameters<typeof setSubscribeFn>[0]);
    },
  };
}
