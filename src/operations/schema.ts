/**
 * Operations over GraphQL, admins only: the `serverLog` subscription and the
 * allowed origins.
 */
import { builder, sameForEveryViewer } from '../builder.ts';
import { isAdmin, requireViewer } from '../context.ts';
import { forbidden } from '../core/errors.ts';
import { parseLevel, type LogLine } from './server-log.ts';

const LogLineRef = builder.objectRef<LogLine>('LogLine').implement({
  description: "One line of the server's own structured log (pino), secrets already redacted.",
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    instance: t.exposeString('instance', { description: 'The instance that wrote the line: its host name and process id.' }),
    level: t.exposeString('level', { description: 'trace, debug, info, warn, error or fatal.' }),
    logger: t.exposeString('logger'),
    message: t.exposeString('message'),
    detail: t.field({ extensions: sameForEveryViewer, type: 'JSON', nullable: true, description: 'The line\'s other fields (request id, user id, error, ...).', resolve: (line) => line.detail }),
  }),
});

builder.subscriptionField('serverLog', (t) =>
  t.field({
    extensions: sameForEveryViewer,
    type: LogLineRef,
    description: "Admins only: the server's own structured log, live, from every instance of the cluster.",
    args: {
      level: t.arg.string({ required: false, description: 'Least level to receive: trace, debug, info (default), warn, error or fatal.' }),
    },
    subscribe: (_root, args, ctx) => {
      const viewer = requireViewer(ctx);
      if (!isAdmin(viewer)) throw forbidden('Only admins may read the server log.');
      return ctx.app.serverLog.stream({ minLevel: parseLevel(args.level) });
    },
    resolve: (line) => line,
  }),
);

builder.queryField('allowedOrigins', (t) =>
  t.stringList({
    description: 'Admins only: the origins granted CORS and WebSocket upgrades besides the server\'s own, sorted. Empty: same origin only.',
    resolve: (_root, _args, ctx) => ctx.app.origins.list(requireViewer(ctx)),
  }),
);

builder.mutationFields((t) => ({
  addAllowedOrigin: t.stringList({
    description: 'Admins only: grants `origin` (scheme://host[:port]) on every instance within a second. Returns the list.',
    args: { origin: t.arg.string({ required: true }) },
    resolve: (_root, { origin }, ctx) => ctx.app.origins.add(requireViewer(ctx), origin, ctx.ip),
  }),
  removeAllowedOrigin: t.stringList({
    description: 'Admins only: withdraws `origin` on every instance within a second (one of ALLOWED_ORIGINS is refused: change the variable). Returns the list.',
    args: { origin: t.arg.string({ required: true }) },
    resolve: (_root, { origin }, ctx) => ctx.app.origins.remove(requireViewer(ctx), origin, ctx.ip),
  }),
}));
