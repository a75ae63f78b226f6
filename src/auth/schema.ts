/**
 * Accounts and sessions in the schema: User, AuthPayload, AuditEvent, the
 * auth mutations and queries. Thin: the rules live in accounts.ts.
 */
import { decodeGlobalID } from '@pothos/plugin-relay';
import { builder, sameForEveryViewer } from '../builder.ts';
import { isAdmin, requireViewer, type Context } from '../context.ts';
import { badInput, forbidden, unauthenticated } from '../core/errors.ts';
import { checkText } from '../core/text.ts';
import type { IssuedSession, Origin } from './accounts.ts';
import { proofKeyOf } from './dpop.ts';
import { clearRefreshCookie, deviceTokenFromCookie, refreshTokenFromCookie, setDeviceCookie, setRefreshCookie } from './refresh-cookie.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The database id inside a User global ID; '' when `globalId` is not one
 * (the service then answers BAD_USER_INPUT, after its permission check).
 */
export function userIdFromGlobalId(globalId: string): string {
  try {
    const { typename, id } = decodeGlobalID(globalId);
    return typename === 'User' ? id : '';
  } catch {
    return '';
  }
}

/**
 * User records handed to the user they describe although the request is not
 * yet signed in as it (register, login, refresh): their email is shown.
 */
const ownRecords = new WeakSet<object>();
const asOwnRecord = <T extends object>(user: T): T => (ownRecords.add(user), user);

export const originOf = (ctx: Context): Origin => ({ ip: ctx.ip, userAgent: ctx.request?.headers.get('user-agent') ?? null, requestId: ctx.requestId });
/** originOf plus the key of the operation's DPoP proof, when one came (a bad proof is refused here): the sign-in mutations and refresh bind to it. */
export const boundOriginOf = async (ctx: Context): Promise<Origin> => ({ ...originOf(ctx), jkt: await proofKeyOf(ctx) });

/**
 * The User node (relay global ID). Other domains add fields with
 * `builder.prismaObjectField('User', ...)`.
 */
export const UserRef = builder.prismaNode('User', {
  id: { field: 'id', extensions: sameForEveryViewer },
  nullable: true,
  // Also loads fields missing from a User parent in any context, anonymous ones included: so no
  // permission check here. Nothing private is exposed: email has its own rule.
  findUnique: (id) => {
    if (!uuidPattern.test(id)) throw badInput('id', 'Not a valid user id.');
    return { id };
  },
  fields: (t) => ({
    username: t.exposeString('username'),
    email: t.string({
      nullable: true,
      description: "The user's own address: visible to that user and to admins, null to everyone else.",
      resolve: (user, _args, ctx) =>
        ownRecords.has(user) || (ctx.viewer && (ctx.viewer.userId === user.id || isAdmin(ctx.viewer))) ? user.email : null,
    }),
    roles: t.exposeStringList('roles'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const AuthPayload = builder.objectRef<IssuedSession>('AuthPayload').implement({
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    accessTokenExpiresAt: t.expose('accessTokenExpiresAt', { type: 'DateTime' }),
    refreshToken: t.exposeString('refreshToken', { description: 'Also set as an HttpOnly, SameSite=Strict cookie on the response.' }),
    refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', { type: 'DateTime' }),
    user: t.field({ type: UserRef, resolve: (payload) => asOwnRecord(payload.user) }),
    deviceToken: t.string({
      nullable: true,
      description:
        'After login: this client\'s device token for the account. Send it with the next login (LoginInput.deviceToken) to be exempt from lock-outs caused by others\' failed attempts. Browsers also receive it as an HttpOnly cookie. Null after refresh.',
      resolve: (payload) => payload.device?.token ?? null,
    }),
  }),
});

const RegisterInput = builder.inputType('RegisterInput', {
  fields: (t) => ({
    username: t.string({ required: true }),
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    login: t.string({ required: true, description: 'Username or email.' }),
    password: t.string({ required: true }),
    deviceToken: t.string({ description: 'The device token an earlier login gave this client (AuthPayload.deviceToken); a browser\'s cookie is read when omitted.' }),
  }),
});

const AuditEventRef = builder.prismaNode('AuditEvent', {
  id: { field: 'id' },
  nullable: true,
  findUnique: (id, ctx) => {
    if (!isAdmin(requireViewer(ctx))) throw forbidden('Only admins may read the audit log.');
    if (!/^\d{1,19}$/.test(id)) throw badInput('id', 'Not a valid audit event id.');
    return { id: BigInt(id) };
  },
  fields: (t) => ({
    kind: t.exposeString('kind', {
      description: 'login, login_failed, logout, refresh, refresh_reuse, session_replaced, revoked, register, user_deleted, rate_limited, connection_rejected, ...',
    }),
    user: t.relation('user', { nullable: true }),
    ip: t.exposeString('ip', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
    detail: t.expose('detail', { type: 'JSON', nullable: true }),
  }),
});

/** Largest page of auditLog. */
const AUDIT_PAGE_MAX = 100;
/** Page size of auditLog when `first` is not given. */
const AUDIT_PAGE_DEFAULT = 20;

/** Opaque auditLog cursors: the event id, base64url-wrapped. */
const auditCursor = (id: bigint): string => Buffer.from(`audit:${id}`).toString('base64url');
function auditIdFromCursor(cursor: string): bigint {
  const match = /^audit:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  // AuditEvent.id is a PostgreSQL bigint: a larger number would fail in the database.
  if (!match || BigInt(match[1]!) > 2n ** 63n - 1n) throw badInput('after', 'Not a cursor of auditLog.');
  return BigInt(match[1]!);
}

builder.queryFields((t) => ({
  me: t.prismaField({
    type: 'User',
    nullable: true,
    description: 'Null when not signed in.',
    resolve: async (query, _root, _args, ctx) => {
      if (!ctx.viewer && !ctx.tokenRefused) return null;
      const viewer = requireViewer(ctx);
      const user = await ctx.app.db.user.findUnique({ ...query, where: { id: viewer.userId } });
      if (!user) throw unauthenticated('Your account no longer exists.');
      return user;
    },
  }),
  auditLog: t.connection(
    {
      type: AuditEventRef,
      description: 'Admins only. Newest first; pages forward with first/after.',
      args: { userId: t.arg.id(), kind: t.arg.string() },
      resolve: async (_root, args, ctx) => {
        if (!isAdmin(requireViewer(ctx))) throw forbidden('Only admins may read the audit log.');
        if (args.last != null || args.before != null) throw badInput(args.last != null ? 'last' : 'before', 'auditLog pages forward only: use first and after.');
        const first = args.first ?? AUDIT_PAGE_DEFAULT;
        if (first < 0 || first > AUDIT_PAGE_MAX) throw badInput('first', `first must be 0 to ${AUDIT_PAGE_MAX}.`);
        const after = args.after != null ? auditIdFromCursor(args.after) : null;
        if (args.kind != null) checkText(args.kind, 'kind', { what: 'kind', min: 1, max: 64, kind: 'name' });
        let userId: string | undefined;
        if (args.userId != null) {
          userId = userIdFromGlobalId(args.userId);
          if (!uuidPattern.test(userId)) throw badInput('userId', 'Not a valid user id.');
        }
        const rows = await ctx.app.db.auditEvent.findMany({
          where: { ...(userId ? { userId } : {}), ...(args.kind != null ? { kind: args.kind } : {}), ...(after !== null ? { id: { lt: after } } : {}) },
          include: { user: true },
          orderBy: { id: 'desc' },
          take: first + 1,
        });
        const edges = rows.slice(0, first).map((node) => ({ cursor: auditCursor(node.id), node }));
        return {
          edges,
          pageInfo: {
            hasNextPage: rows.length > first,
            hasPreviousPage: after !== null,
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
        };
      },
    },
    { name: 'AuditEventConnection' },
    { name: 'AuditEventEdge' },
  ),
}));

builder.mutationFields((t) => ({
  register: t.field({
    type: UserRef,
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    resolve: async (_root, { input }, ctx) => asOwnRecord(await ctx.app.accounts.register(input, originOf(ctx))),
  }),
  login: t.field({
    type: AuthPayload,
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const issued = await ctx.app.accounts.login({ ...input, deviceToken: input.deviceToken ?? deviceTokenFromCookie(ctx) }, await boundOriginOf(ctx));
      setRefreshCookie(ctx, issued.refreshToken, issued.refreshTokenExpiresAt);
      if (issued.device) setDeviceCookie(ctx, issued.device.token, issued.device.expiresAt);
      return issued;
    },
  }),
  refresh: t.field({
    type: AuthPayload,
    description: 'Rotates the refresh token (argument, else the cookie). Reusing a rotated token revokes that whole session.',
    args: { refreshToken: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const issued = await ctx.app.accounts.refresh(args.refreshToken ?? refreshTokenFromCookie(ctx), await boundOriginOf(ctx));
      setRefreshCookie(ctx, issued.refreshToken, issued.refreshTokenExpiresAt);
      // Sent over a live socket by its own user: the socket adopts the new token's expiry and session.
      if (ctx.connection && ctx.viewer?.userId === issued.viewer.userId) ctx.connection.renew(issued.viewer);
      return issued;
    },
  }),
  logout: t.boolean({
    description: 'Ends the caller\'s session everywhere it is connected.',
    resolve: async (_root, _args, ctx) => {
      await ctx.app.accounts.logout(requireViewer(ctx), originOf(ctx));
      clearRefreshCookie(ctx);
      return true;
    },
  }),
  deleteAccount: t.boolean({
    args: { password: t.arg.string({ required: true }) },
    resolve: async (_root, { password }, ctx) => {
      await ctx.app.accounts.deleteAccount(requireViewer(ctx), password, originOf(ctx));
      clearRefreshCookie(ctx);
      return true;
    },
  }),
  deleteUser: t.boolean({
    description: 'Admins only.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      await ctx.app.accounts.deleteUser(requireViewer(ctx), userIdFromGlobalId(id), originOf(ctx));
      return true;
    },
  }),
  setRoles: t.field({
    type: UserRef,
    description: 'Admins only.',
    args: { userId: t.arg.id({ required: true }), roles: t.arg.stringList({ required: true }) },
    resolve: (_root, { userId, roles }, ctx) => ctx.app.accounts.setRoles(requireViewer(ctx), userIdFromGlobalId(userId), roles, originOf(ctx)),
  }),
  revokeSessions: t.int({
    description: 'Admins only: ends every session of that user, live connections included. Returns how many sessions ended.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, { userId }, ctx) => ctx.app.accounts.revokeSessions(requireViewer(ctx), userIdFromGlobalId(userId), originOf(ctx)),
  }),
}));
