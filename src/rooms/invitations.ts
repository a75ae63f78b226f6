/**
 * Invitations as every instance hears them: one bus channel per invited
 * user (Channels.roomInvitations), listened to on an instance only while
 * that user subscribes there, shared by all its sockets on it. An
 * invitation published while the bus is cut off is not heard: a client
 * that reconnects reads its room list again.
 */
import type { Bus } from '../adapters/bus.ts';
import type { Outbox } from '../adapters/outbox.ts';
import { Channels } from '../core/codes.ts';
import { keyedListeners } from '../utils/keyed-listeners.ts';

/** The bus message of one new invitation. */
export interface Invitation {
  roomId: string;
  userId: string;
  invitedById: string;
  /** ISO time of the invitation. */
  at: string;
}

export interface InvitationFeed {
  /** Tells every instance, through the outbox (retried, without waiting). */
  publish(invitation: Invitation): void;
  /** Listens to the user's invitations on this instance; resolves once listening, to a function that stops it. */
  listen(userId: string, listener: (invitation: Invitation) => void): Promise<() => void>;
}

export function createInvitationFeed(bus: Bus, outbox: Outbox): InvitationFeed {
  const users = keyedListeners<Invitation, () => void>(
    (userId, emit) => bus.subscribe<Invitation>(Channels.roomInvitations(userId), emit),
    (unsubscribe) => unsubscribe(),
  );
  return {
    publish: (invitation) => outbox.send(Channels.roomInvitations(invitation.userId), invitation, { roomId: invitation.roomId }),
    listen: async (userId, listener) => (await users.listen(userId, listener)).stop,
  };
}
