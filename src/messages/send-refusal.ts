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

/** Per operation of a live document: its refusal, or null when it does more than send. */
const refusals = new WeakMap<OperationDefinitionNode, ExecutionResult | null>();

function refusalFor(operation: OperationDefinitionNode): ExecutionResult | null {
  if (operation.operation !== 'mutation' || operation.directives?.length) return null;
  const [field, ...others] = operation.selectionSet.selections;
  if (others.length || field?.kind !== Kind.FIELD || field.name.value !== 'sendMessage' || field.directives?.length) return null;
  return { data: null, errors: [locatedError(overloaded(), [field], [field.alias?.value ?? field.name.value])] };
}

/** The answer, while sends are refused for load, to `operationName` of `document` when that operation only sends; else undefined. */
export function sendRefusal(document: DocumentNode, operationName: string | null | undefined): ExecutionResult | undefined {
  const operation = getOperationAST(document, operationName);
  if (!operation) return undefined;
  let refusal = refusals.get(operation);
  if (refusal === undefined) refusals.set(operation, (refusal = refusalFor(operation)));
  return refusal ?? undefined;
}

/** Counts a refusal made here as admission.ts and the metrics plugin would have. */
export function countEarlyRefusal(): void {
  countRefusal();
  metrics.errors.inc({ code: ErrorCode.RATE_LIMITED });
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
    if (parsed.size >= parsedLimit) parsed.delete(parsed.keys().next().value!);
    parsed.set(query, document);
    return document;
  };
  return {
    onParams({ params, setResult }) {
      if (typeof params.query !== 'string' || !refusing()) return;
      const document = documentOf(params.query);
      const refusal = document && sendRefusal(document, params.operationName);
      if (!refusal) return;
      countEarlyRefusal();
      setResult(refusal);
    },
  };
}
