import { builder, sameForEveryViewer } from '../builder.ts';
import { eventStream } from '../utils/event-stream.ts';
import type { SlotCounts } from './service.ts';

const ConnectionSlots = builder.objectRef<SlotCounts>('ConnectionSlots').implement({
  description: 'Connection slots: how many distinct users may be connected at once, cluster-wide.',
  fields: (t) => ({
    used: t.exposeInt('used'),
    max: t.exposeInt('max'),
    available: t.exposeInt('available'),
  }),
});

builder.queryField('connectionSlots', (t) =>
  t.field({
    type: ConnectionSlots,
    resolve: (_root, _args, ctx) => ctx.app.slots.counts(),
  }),
);

builder.subscriptionField('connectionSlots', (t) =>
  t.field({
    extensions: sameForEveryViewer,
    type: ConnectionSlots,
    description: 'Emits the current counts at once, then on every change.',
    subscribe: (_root, _args, ctx) =>
      eventStream<SlotCounts>((push) => {
        let stopped = false;
        const stop = ctx.app.slots.onChange(push);
        void ctx.app.slots.counts().then((now) => !stopped && push(now), () => {});
        return () => {
          stopped = true;
          stop();
        };
      }),
    resolve: (counts) => counts,
  }),
);
