/**
 * INTROSPECTION=false: `__schema` and `__type` are refused in validation, on
 * HTTP, SSE and WebSocket alike (they share envelop's validate, see
 * src/realtime/ws-server.ts), with code FORBIDDEN. `__typename` stays
 * allowed: clients (Apollo's cache, the SDK) ask for it on every object.
 */
import { GraphQLError, getNamedType, isIntrospectionType, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../core/codes.ts';

/** The refusal's message. */
export const introspectionOffMessage = 'Introspection is turned off on this server (INTROSPECTION=false): __schema and __type are not available.';

/**
 * Like graphql's NoSchemaIntrospectionCustomRule (a field whose type is an introspection type), with our
 * code, and once per entry point: fields inside `__schema { ... }` are not reported again.
 */
const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    const type = getNamedType(context.getType());
    const parent = context.getParentType();
    if (type && isIntrospectionType(type) && !(parent && isIntrospectionType(parent))) {
      context.reportError(new GraphQLError(introspectionOffMessage, { nodes: node, extensions: { code: ErrorCode.FORBIDDEN, field: node.name.value } }));
    }
  },
});

/** Yoga plugin: nothing when `enabled`, else the rule above. */
export function useIntrospectionSwitch(enabled: boolean): Plugin {
  if (enabled) return {};
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(noIntrospection);
    },
  };
}
