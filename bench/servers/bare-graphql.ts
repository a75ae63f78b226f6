/**
 * Baseline: what most people start from: graphql-yoga + graphql-ws with an
 * in-memory pub/sub, no auth, no database. Each event runs GraphQL once per
 * subscriber, as graphql-ws does by default.
 */
import { setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

interface Message {
  id: string;
  body: string;
  createdAt: string;
}
// One EventTarget listener per subscriber of the room: a thousand is the scenario, not a leak.
const eventTarget = new EventTarget();
setMaxListeners(0, eventTarget);
const pubSub = createPubSub<{ [key: `room:${string}`]: [Message] }>({ eventTarget });

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Message { id: ID! body: String! createdAt: String! }
    type Query { ok: Boolean! }
    type Mutation { sendMessage(roomId: ID!, body: String!): Message! }
    type Subscription { roomMessages(roomId: ID!): Message! }
  `,
  resolvers: {
    Query: { ok: () => true },
    Mutation: {
      sendMessage: (_: unknown, { roomId, body }: { roomId: string; body: string }) => {
        const message = { id: randomUUID(), body, createdAt: new Date().toISOString() };
        pubSub.publish(`room:${roomId}`, message);
        return message;
      },
    },
    Subscription: {
      roomMessages: {
        subscribe: (_: unknown, { roomId }: { roomId: string }) => pubSub.subscribe(`room:${roomId}`),
        resolve: (message: Message) => message,
      },
    },
  },
});

const yoga = createYoga({ schema, graphiql: false, logging: false });
const httpServer = createServer(yoga);
const wss = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint, perMessageDeflate: false });

useServer(
  {
    execute: (args: any) => args.rootValue.execute(args),
    subscribe: (args: any) => args.rootValue.subscribe(args),
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
      const args = {
        schema,
        operationName: params.operationName,
        document: parse(params.query),
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      const errors = validate(args.schema, args.document);
      return errors.length ? errors : args;
    },
  },
  wss,
);

httpServer.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
