/**
 * Who may do what with a room: one function per rule, used by queries,
 * mutations and subscriptions alike.
 *
 * - PUBLIC: any signed-in user may join.
 * - PRIVATE: the owner and invited users.
 * - RESTRICTED: holders of one of the room's allowedRoles, and admins.
 * - OWNER_ONLY: the owner.
 * Owners and admins manage a room, and admins see every room and may join
 * any (a join of a PRIVATE or OWNER_ONLY room by an admin is audited, see
 * rooms/service.ts). Reading, sending and subscribing need membership while
 * the user still qualifies to join; a member who no longer qualifies has
 * lost access. So an admin reads a room's messages only once it joined.
 */
import type { Room } from '../generated/prisma/client.ts';
import { isAdmin, type Viewer } from '../context.ts';

export interface Relation {
  member: boolean;
  invited: boolean;
}

export function canJoin(viewer: Viewer, room: Pick<Room, 'permission' | 'ownerId' | 'allowedRoles'>, relation: Pick<Relation, 'invited'>): boolean {
  if (room.ownerId === viewer.userId || isAdmin(viewer)) return true;
  switch (room.permission) {
    case 'PUBLIC':
      return true;
    case 'PRIVATE':
      return relation.invited;
    case 'RESTRICTED':
      return viewer.roles.some((role) => room.allowedRoles.includes(role));
    case 'OWNER_ONLY':
      return false;
  }
}

export function canSee(viewer: Viewer, room: Pick<Room, 'permission' | 'ownerId' | 'allowedRoles'>, relation: Relation): boolean {
  return isAdmin(viewer) || relation.member || canJoin(viewer, room, relation);
}

export const canManage = (viewer: Viewer, room: Pick<Room, 'ownerId'>): boolean => room.ownerId === viewer.userId || isAdmin(viewer);

/**
 * Whether a join is an admin entering a PRIVATE room it was not invited to or
 * another's OWNER_ONLY room: allowed, and audited (RESTRICTED rooms always
 * admitted admins).
 */
export const joinsAsAdmin = (viewer: Viewer, room: Pick<Room, 'permission' | 'ownerId'>, relation: Pick<Relation, 'invited'>): boolean =>
  isAdmin(viewer) && room.ownerId !== viewer.userId && (room.permission === 'OWNER_ONLY' || (room.permission === 'PRIVATE' && !relation.invited));

/** The last item of a room subscription whose viewer lost access to the room (it then ends with FORBIDDEN). */
export const lostAccess = Symbol('lost access');

/** Read messages, send, subscribe: a member who still qualifies to join. */
export const hasAccess = (viewer: Viewer, room: Pick<Room, 'permission' | 'ownerId' | 'allowedRoles'>, relation: Relation): boolean =>
  relation.member && canJoin(viewer, room, relation);
