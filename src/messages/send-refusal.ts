/**
 * A send refused for load, answered before GraphQL runs. An instance
 * offered more sends than it stores refuses most of them (admission.ts);
 * through envelop, the context and graphql-js each refusal cost nearly what
 * a stored message costs, and an instance refusing thousands a second spent
 * its core on them while the sends it had accepted waited
 * (docs/performance.md). An operation that is a single `sendMessage`
 * mutation is answered at once instead, over graphql-ws
 * (realtime/ws-server.ts) and HTTP ({@link useSendRefusal}), with the result
 * GraphQL would give: the same error, at the field's path and location.
 */
import { getOperationAST, Kind, locatedError, parse, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../core/codes.ts';
import { metrics } from '../core/metrics.ts';
import { countRefusal, overloaded } from './admission.ts';
import { setBounded } from '../utils/bounded-map.ts';

/** Per operation of a live document: its refusal, or null when it does more than send. */
const refusals = new WeakMap<OperationDefinitionNode, ExecutionResult | null>();

function refusalFor(operation: OperationDefinitionNode): ExecutionResult | null {
  if (operation.operation !== 'mutation' || operation.directives?.length) return null;
  const [field, ...others] = operation.selectionSet.selections;
  if (others.length || field?.kind !== Kind.FIELD || field.name.value !== 'sendMessage' || field.directives?.length) return null;
  return { data: null, errors: [locatedError(overloaded(), [field], [field.alias?.value ?? field.name.value])] };
}

/** The answer to `operationName` of `document` when that operation only sends; else undefined. */
function sendRefusal(document: DocumentNode, operationName: string | null | undefined): ExecutionResult | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  let refusal = refusals.get(operation);
  if (refusal === undefined) refusals.set(operation, (refusal = refusalFor(operation)));
  return refusal ?? undefined;
}

/**
 * The one rule both paths follow: while `refusing()`, an operation of the
 * document (`documentOf` is asked only then) that only sends is answered
 * with its refusal, counted as admission.ts and the metrics plugin would
 * count it (neither runs for it). Undefined: the operation goes on as usual.
 */
export function earlyRefusal(refusing: () => boolean, documentOf: () => DocumentNode | null | undefined, operationName: string | null | undefined): ExecutionResult | undefined {
  if (!refusing()) return undefined;
  const document = documentOf();
  const refusal = document ? sendRefusal(document, operationName) : undefined;
  if (!refusal) return undefined;
  countRefusal();
  metrics.errors.inc({ code: ErrorCode.RATE_LIMITED });
  return refusal;
}

/** Most query texts whose parse the HTTP refusal keeps (as many as Yoga keeps parsed documents). */
const parsedLimit = 1024;

/**
 * The HTTP side: while `refusing()`, a request whose operation only sends is
 * answered before Yoga parses, validates or executes it. A query text is
 * parsed here only while refusing, once.
 */
export function useSendRefusal(refusing: () => boolean): Plugin {
  const parsed = new Map<string, DocumentNode | null>();
  const documentOf = (query: string): DocumentNode | null => {
    let document = parsed.get(query);
    if (document !== undefined) return document;
    try {
      document = parse(query);
    } catch {
      // Yoga answers what does not parse.
      document = null;
    }
    setBounded(parsed, query, document, parsedLimit);
    return document;
  };
  return {
    onParams({ params, setResult }) {
      const { query, operationName } = params;
      if (typeof query !== 'string') return;
      const refusal = earlyRefusal(refusing, () => documentOf(query), operationName);
      if (refusal) setResult(refusal);
    },
  };
}
