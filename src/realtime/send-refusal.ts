/**
 * A send refused for load, answered before GraphQL runs. An instance
 * offered more sends than it stores refuses most of them
 * (messages/admission.ts); through envelop, the context and graphql-js each
 * refusal cost nearly what a stored message costs, and an instance refusing
 * thousands a second spent its core on them while the sends it had accepted
 * waited (docs/performance.md). A graphql-ws operation whose document is a
 * single `sendMessage` mutation is answered here instead, with the result
 * GraphQL would give: the same error, at the field's path and location.
 */
import { Kind, locatedError, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { overloaded } from '../messages/admission.ts';

/** The refusal of an operation that sends and does nothing else; undefined for any other operation. */
export function sendRefusal(operation: OperationDefinitionNode): ExecutionResult | undefined {
  if (operation.operation !== 'mutation' || operation.directives?.length) return undefined;
  const [field, ...others] = operation.selectionSet.selections;
  if (others.length || field?.kind !== Kind.FIELD || field.name.value !== 'sendMessage' || field.directives?.length) return undefined;
  return { data: null, errors: [locatedError(overloaded(), [field], [field.alias?.value ?? field.name.value])] };
}
