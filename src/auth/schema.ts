import { builder } from '../builder.ts';

builder.queryField('me', (t) => t.boolean({ nullable: true, resolve: () => null }));
