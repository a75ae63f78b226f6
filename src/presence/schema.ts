import { builder, sameForEveryViewer } from '../builder.ts';
import { requireViewer, type Context } from '../context.ts';
import { badInput } from '../core/errors.ts';
import { Keys } from '../core/codes.ts';
import { UserRef } from '../auth/schema.ts';
import type { User } from '../generated/prisma/client.ts';
import type { PresenceStatus, PresenceUser, ShownChange } from './service.ts';
import { reportedStatus } from './scripts.ts';

/**
 * A user row a presence change carried (read once per change on this
 * instance) as the User type's parent: it has the columns that type reads,
 * never the password hash, hence the cast.
 */
export const asUser = (row: PresenceUser): User => row as User;

export const PresenceStatusEnum = builder.enumType('PresenceStatus', { values: ['ONLINE', 'AWAY', 'OFFLINE'] as const });

/** One read of the presence hash per operation, however many users it shows. */
const presenceByOperation = new WeakMap<Context, Promise<Record<string, string>>>();
function statusIn(ctx: Context, userId: string): Promise<PresenceStatus> {
  let all = presenceByOperation.get(ctx);
  if (!all) presenceByOperation.set(ctx, (all = ctx.app.state.hgetall(Keys.presence)));
  return all.then((entries) => reportedStatus(entries[userId] ?? null));
}

builder.prismaObjectField('User', 'presence', (t) =>
  t.field({ extensions: sameForEveryViewer, type: PresenceStatusEnum, resolve: (user, _args, ctx) => statusIn(ctx, user.id) }),
);

const PresenceEvent = builder.objectRef<ShownChange>('PresenceEvent').implement({
  fields: (t) => ({
    user: t.field({ extensions: sameForEveryViewer, type: UserRef, nullable: false, resolve: (event) => asUser(event.user) }),
    status: t.field({ extensions: sameForEveryViewer, type: PresenceStatusEnum, resolve: (event) => event.status }),
    at: t.field({ extensions: sameForEveryViewer, type: 'DateTime', resolve: (event) => new Date(event.at) }),
  }),
});

builder.queryField('onlineUsers', (t) =>
  t.prismaField({
    type: ['User'],
    description: 'Users connected right now, anywhere in the cluster (signed-in callers).',
    resolve: async (query, _root, _args, ctx) => {
      requireViewer(ctx);
      const ids = await ctx.app.presence.onlineUserIds();
      return ctx.app.db.user.findMany({ ...query, where: { id: { in: ids } }, orderBy: { username: 'asc' } });
    },
  }),
);

builder.mutationField('setPresence', (t) =>
  t.field({
    type: PresenceStatusEnum,
    description: 'ONLINE or AWAY; OFFLINE follows from closing every socket. A user with no socket stays OFFLINE.',
    args: { status: t.arg({ type: PresenceStatusEnum, required: true }) },
    resolve: (_root, { status }, ctx) => {
      const viewer = requireViewer(ctx);
      if (status === 'OFFLINE') throw badInput('status', 'OFFLINE follows from closing your sockets; choose ONLINE or AWAY.');
      return ctx.app.presence.set(viewer.userId, status);
    },
  }),
);

builder.subscriptionField('presence', (t) =>
  t.field({
    extensions: sameForEveryViewer,
    type: PresenceEvent,
    description: "Every user's status changes.",
    subscribe: (_root, _args, ctx) => {
      requireViewer(ctx);
      return ctx.app.presence.stream();
    },
    resolve: (event) => event,
  }),
);
