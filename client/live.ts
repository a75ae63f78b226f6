/**
 * The SDK's live operations: subscriptions kept across reconnects, each
 * started again on every new connection of client/socket.ts; roomMessages
 * resumes after the last message it delivered (no gap, no duplicate), and
 * liveRooms keeps the room list current.
 */
import { RoomListChangesDocument, RoomMessagesCursorDocument, RoomMessagesDocument, RoomsDocument } from './documents.ts';
import type { MessageFieldsFragment, RoomFieldsFragment, RoomListChangesSubscription, TypedDocumentString } from './gql/graphql.ts';
import { GraphQLRequestError } from './errors.ts';
import type { LiveSocket } from './socket.ts';
import type { Request, Variables } from './transport.ts';

/** One change of the room list, as roomListChanges tells it. */
export type RoomListChange = RoomListChangesSubscription['roomListChanges'];

/** What a subscription call gets back. */
export interface Subscription {
  unsubscribe(): void;
}

export interface SubscriptionHandlers<T> {
  next(data: T): void;
  /** The server refused or ended the subscription with errors; it is not restarted. */
  error?(error: Error): void;
  /** The server completed the subscription; it is not restarted. */
  complete?(): void;
}

export interface RoomListHandlers {
  /** The list as it is now, after each change (`change`) and each read of it (`change` null). A new array each time. */
  next(rooms: readonly RoomFieldsFragment[], change: RoomListChange | null): void;
  /** A read of the list failed; the next one (a reconnect, a RESYNC, `refresh()`) tries again. */
  readFailed?(error: Error): void;
  /** The server refused or ended the subscription; it is not restarted. */
  error?(error: Error): void;
}

export interface RoomListOptions {
  /** Rooms asked for per page of `rooms`. @default 100 */
  pageSize?: number;
  /** Pages read at most: the list holds the oldest `pageSize × maxPages` rooms of a read, and those added since. @default 100 */
  maxPages?: number;
}

/** What `liveRooms` gets back. */
export interface LiveRoomList extends Subscription {
  /** The list as `next` last had it. */
  readonly rooms: readonly RoomFieldsFragment[];
  /** Reads the list again now (a room's member count, say, which roomListChanges does not tell); rejects when the read fails. */
  refresh(): Promise<void>;
}

/** One live subscription, restarted on every new connection. */
interface LiveOperation {
  query: string;
  /** Read at each (re)subscription: roomMessages passes its latest cursor. */
  variables(): Variables;
  /** Runs before each (re)subscription (roomMessages anchors or catches up over HTTP). */
  prepare?(): Promise<void>;
  next(data: unknown): void;
  error(error: Error): void;
  complete(): void;
  /** Connection generation the current graphql-ws subscription belongs to. */
  generation: number;
  stop?: () => void;
}

/** The list with one change applied: a room added goes last, as `rooms` pages the newest last. */
function applyRoomChange(rooms: readonly RoomFieldsFragment[], { kind, roomId, room }: RoomListChange): RoomFieldsFragment[] {
  if (kind === 'REMOVED' || !room) return rooms.filter((r) => r.id !== roomId);
  const at = rooms.findIndex((r) => r.id === room.id);
  return at === -1 ? [...rooms, room] : rooms.map((r, i) => (i === at ? room : r));
}

export class LiveOperations {
  private readonly live = new Set<LiveOperation>();

  /** `request` runs the HTTP reads some operations make before they (re)subscribe. */
  constructor(
    private readonly socket: LiveSocket,
    private readonly request: Request,
  ) {}

  /** (Re)starts every operation on the socket just acknowledged. */
  resumeAll(): void {
    for (const op of this.live) void this.resume(op);
  }

  /** Stops and forgets every operation (the session is over, or the client closed). */
  stopAll(): void {
    for (const op of this.live) op.stop?.();
    this.live.clear();
  }

  /** A subscription restarted with the same variables on each new connection. */
  subscribe<TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables, handlers: SubscriptionHandlers<TResult>): Subscription {
    return this.add({
      query: document.toString(),
      variables: () => (variables ?? {}) as Variables,
      next: (data) => handlers.next(data as TResult),
      error: (error) => handlers.error?.(error),
      complete: () => handlers.complete?.(),
    });
  }

  /**
   * A room's messages, each resubscription asking for those after the last one delivered. Without `after`
   * it anchors at `Room.messagesCursor`, read before the first subscription, so that a drop before anything
   * was delivered loses nothing either.
   */
  roomMessages(roomId: string, handlers: SubscriptionHandlers<MessageFieldsFragment>, options: { after?: string } = {}): Subscription {
    let cursor: string | null = options.after ?? null;
    return this.add({
      query: RoomMessagesDocument.toString(),
      variables: () => ({ roomId, after: cursor }),
      // Still null when the room is not readable: the subscription then ends with the server's refusal.
      prepare: async () => {
        if (cursor === null) cursor = (await this.request(RoomMessagesCursorDocument, { roomId })).room?.messagesCursor ?? null;
      },
      next: (data) => {
        const message = (data as { roomMessages: MessageFieldsFragment }).roomMessages;
        cursor = message.cursor;
        handlers.next(message);
      },
      error: (error) => handlers.error?.(error),
      complete: () => handlers.complete?.(),
    });
  }

  /**
   * The rooms the user may see: read with `rooms` at each RESYNC of roomListChanges (every subscription
   * starts with one), then changed by each change it tells. A read may predate changes heard while it was
   * under way, so those are applied again to what it read.
   */
  liveRooms(handlers: RoomListHandlers, options: RoomListOptions = {}): LiveRoomList {
    const pageSize = options.pageSize ?? 100;
    const maxPages = options.maxPages ?? 100;
    let rooms: readonly RoomFieldsFragment[] = [];
    let stopped = false;
    /** Per read under way, the changes heard since it began. */
    const heardDuringReads = new Set<RoomListChange[]>();
    const read = async (): Promise<void> => {
      const heard: RoomListChange[] = [];
      heardDuringReads.add(heard);
      try {
        const found: RoomFieldsFragment[] = [];
        let after: string | null | undefined;
        for (let page = 0; page < maxPages; page++) {
          const { rooms: connection } = await this.request(RoomsDocument, { first: pageSize, after });
          found.push(...connection.edges.map((edge) => edge.node));
          if (!connection.pageInfo.hasNextPage) break;
          after = connection.pageInfo.endCursor;
        }
        if (stopped) return;
        rooms = heard.reduce(applyRoomChange, found);
        handlers.next(rooms, null);
      } finally {
        heardDuringReads.delete(heard);
      }
    };
    const subscription = this.add({
      query: RoomListChangesDocument.toString(),
      variables: () => ({}),
      next: (data) => {
        const change = (data as RoomListChangesSubscription).roomListChanges;
        if (change.kind === 'RESYNC') return void read().catch((error: Error) => handlers.readFailed?.(error));
        for (const heard of heardDuringReads) heard.push(change);
        rooms = applyRoomChange(rooms, change);
        handlers.next(rooms, change);
      },
      error: (error) => handlers.error?.(error),
      complete: () => undefined,
    });
    return {
      get rooms() {
        return rooms;
      },
      refresh: read,
      unsubscribe: () => {
        stopped = true;
        subscription.unsubscribe();
      },
    };
  }

  private add(op: Omit<LiveOperation, 'generation'>): Subscription {
    const entry: LiveOperation = { ...op, generation: -1 };
    this.live.add(entry);
    void this.resume(entry);
    return {
      unsubscribe: () => {
        if (!this.live.delete(entry)) return;
        entry.stop?.();
      },
    };
  }

  /** (Re)starts one operation on the current socket, if it is open. */
  private async resume(op: LiveOperation): Promise<void> {
    const socket = this.socket.openSocket;
    const generation = this.socket.generation;
    if (!socket || !this.live.has(op)) return;
    if (op.prepare) {
      try {
        await op.prepare();
      } catch (error) {
        // Refused (not a member, no such room): the operation ends. Otherwise
        // the connection is likely down again, and the next one retries.
        if (error instanceof GraphQLRequestError && this.live.delete(op)) op.error(error);
        return;
      }
      if (generation !== this.socket.generation || !this.socket.openSocket || !this.live.has(op)) return;
    }
    op.generation = generation;
    op.stop = socket.subscribe(
      { query: op.query, variables: op.variables() },
      {
        next: (result) => {
          if (op.generation !== this.socket.generation) return;
          if (result.errors?.length && !result.data) {
            this.live.delete(op);
            op.error(new GraphQLRequestError(result.errors));
          } else op.next(result.data);
        },
        error: (error) => {
          // A close is not the operation's end: the next connection resumes it.
          if (op.generation !== this.socket.generation || !Array.isArray(error)) return;
          this.live.delete(op);
          op.error(new GraphQLRequestError(error));
        },
        complete: () => {
          if (op.generation !== this.socket.generation || !this.live.has(op)) return;
          this.live.delete(op);
          op.complete();
        },
      },
    );
  }
}
