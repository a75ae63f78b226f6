/**
 * Who may do what with a room: one function per rule, used by queries,
 * mutations and subscriptions alike.
 *
 * - PUBLIC: any signed-in user may join.
 * - PRIVATE: the owner and invited users.
 * - RESTRICTED: holders of one of the room's allowedRoles, and admins.
 * - OWNER_ONLY: the owner.
 * Owners and admins manage a room (and admins see every room). Reading,
 * sending and subscribing need membership while the user still qualifies to
 * join; a member who no longer qualifies has lost access.
 */
import type { Room } from '../generated/prisma/client.ts';
import { isAdmin, type Viewer } from '../context.ts';

export interface Relation {
  member: boolean;
  invited: boolean;
}

export function canJoin(viewer: Viewer, room: Pick<Room, 'permission' | 'ownerId' | 'allowedRoles'>, relation: Pick<Relation, 'invited'>): boolean {
  if (room.ownerId === viewer.userId) return true;
  switch (room.permission) {
    case 'PUBLIC':
      return true;
    case 'PRIVATE':
      return relation.invited;
    case 'RESTRICTED':
      return isAdmin(viewer) || viewer.roles.some((role) => room.allowedRoles.includes(role));
    case 'OWNER_ONLY':
      return false;
  }
}

export function canSee(viewer: Viewer, room: Pick<Room, 'permission' | 'ownerId' | 'allowedRoles'>, relation: Relation): boolean {
  return isAdmin(viewer) || relation.member || canJoin(viewer, room, relation);
}

export const canManage = (viewer: Viewer, room: Pick<Room, 'ownerId'>): boolean => room.ownerId === viewer.userId || isAdmin(viewer);

/** The last item of a room subscription whose viewer lost access to the room (it then ends with FORBIDDEN). */
export const lostAccess = Symbol('lost access');

/** Read messages, send, subscribe: a member who still qualifies to join. */
export const hasAccess = (viewer: Viewer, room: Pick<Room, 'permission' | 'ownerId' | 'allowedRoles'>, relation: Relation): boolean =>
  relation.member && canJoin(viewer, room, relation);
