/**
 * Which fields shared fan-out (src/realtime/fan-out.ts) executes once for
 * every viewer: every field reachable from a subscription is walked, and a
 * document selecting it is executed per viewer unless the field is the same
 * for every viewer (exposed from its parent, or declared). The declared list
 * below is the review point: a field joins it only when its value reads
 * nothing of who asks.
 */
import { getNamedType, isInterfaceType, isObjectType, isUnionType, parse, type GraphQLField, type GraphQLNamedType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema.ts';
import { executesPerViewer, isSameForEveryViewer } from '../../src/realtime/fan-out.ts';

/** Every field reachable from Subscription, with a document that selects it. */
function reachableFields(): Array<{ coordinate: string; field: GraphQLField<unknown, unknown>; document: string }> {
  const found: Array<{ coordinate: string; field: GraphQLField<unknown, unknown>; document: string }> = [];
  const seen = new Set<string>();
  // Each type is reached through a path of selections; `wrap` puts a selection at the end of that path.
  const queue: Array<{ type: GraphQLNamedType; wrap: (inner: string) => string }> = [{ type: schema.getSubscriptionType()!, wrap: (inner) => `subscription ${inner}` }];
  while (queue.length > 0) {
    const { type, wrap } = queue.shift()!;
    if (seen.has(type.name)) continue;
    seen.add(type.name);
    if (isUnionType(type) || isInterfaceType(type)) {
      const members = isUnionType(type) ? type.getTypes() : schema.getPossibleTypes(type);
      for (const member of members) queue.push({ type: member, wrap: (inner) => wrap(`{ ... on ${member.name} ${inner} }`) });
    }
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const args = field.args.filter((a) => a.type.toString().endsWith('!')).map((a) => `${a.name}: "x"`);
      const call = args.length > 0 ? `${field.name}(${args.join(', ')})` : field.name;
      const named = getNamedType(field.type);
      const leaf = !isObjectType(named) && !isInterfaceType(named) && !isUnionType(named);
      found.push({ coordinate: `${type.name}.${field.name}`, field, document: wrap(`{ ${call}${leaf ? '' : ' { __typename }'} }`) });
      if (!leaf) queue.push({ type: named, wrap: (inner) => wrap(`{ ${call} ${inner} }`) });
    }
  }
  return found;
}

/** Fields with a resolver of their own, declared the same for every viewer (`sameForEveryViewer`). */
const declaredShared = [
  'Message.author', 'Message.cursor', 'Message.id', 'Message.room',
  'LogLine.detail',
  'PresenceEvent.at', 'PresenceEvent.status', 'PresenceEvent.user',
  'Room.id', 'Room.members', 'Room.online', 'Room.owner',
  'RoomInvitation.at', 'RoomInvitation.invitedBy', 'RoomInvitation.room',
  'RoomListChange.kind', 'RoomListChange.room', 'RoomListChange.roomId',
  'RoomPresenceEvent.at', 'RoomPresenceEvent.kind', 'RoomPresenceEvent.room', 'RoomPresenceEvent.status', 'RoomPresenceEvent.user',
  'Subscription.connectionSlots', 'Subscription.presence', 'Subscription.roomInvitations', 'Subscription.roomListChanges', 'Subscription.roomMessages', 'Subscription.roomPresence', 'Subscription.serverLog',
  'User.id', 'User.presence',
].sort();

describe('fields shared across viewers', () => {
  const fields = reachableFields();

  it('a document selecting any reachable field runs per viewer unless that field is the same for every viewer', () => {
    expect(fields.length).toBeGreaterThan(40);
    for (const { coordinate, field, document } of fields) {
      expect({ coordinate, perViewer: executesPerViewer(schema, parse(document)) }).toEqual({ coordinate, perViewer: !isSameForEveryViewer(field) });
    }
  });

  it('declared shared: exactly the reviewed list; fields that depend on the viewer are not among them', () => {
    const declared = fields.filter(({ field }) => (field.extensions as Record<string, unknown>).sameForEveryViewer === true).map((f) => f.coordinate).sort();
    expect(declared).toEqual(declaredShared);
    const viewerDependent = fields.filter(({ field }) => !isSameForEveryViewer(field)).map((f) => f.coordinate);
    expect(viewerDependent).toEqual(expect.arrayContaining(['User.email', 'Room.messagesCursor']));
  });
});
