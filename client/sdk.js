/**
 * The Switchboard client SDK: typed operations over fetch and one graphql-ws
 * socket, for Node and the browser.
 *
 * It keeps the session's tokens and renews the access token before it
 * expires (over the live socket when there is one, so the socket is renewed
 * in place); it reconnects with backoff and a fresh token after the server's
 * 4003 or a network drop, resuming every subscription (roomMessages from the
 * last cursor it delivered: no gap, no duplicate); it keeps a live list of
 * the rooms the user may see (`liveRooms`); it stops on 4001, 4002, 4403
 * and 4029 and says why through the `ended` event; and it retries
 * sendMessage with the same idempotency key when an answer is lost.
 */
import { createClient } from 'graphql-ws';
import { LoginDocument, LogoutDocument, RefreshDocument, RegisterDocument, RoomListChangesDocument, RoomMessagesCursorDocument, RoomMessagesDocument, RoomsDocument, SendMessageDocument, } from './documents.js';
/** A GraphQL error answer; `code` is the first error's extensions.code. */
export class GraphQLRequestError extends Error {
    errors;
    name = 'GraphQLRequestError';
    code;
    constructor(errors) {
        super(errors.map((e) => e.message).join('; ') || 'GraphQL error');
        this.errors = errors;
        this.code = errors[0]?.extensions?.code;
    }
}
/** The request did not get a GraphQL answer (network, proxy, server down). */
export class TransportError extends Error {
    status;
    name = 'TransportError';
    constructor(message, status) {
        super(message);
        this.status = status;
    }
}
/** The list with one change applied: a room added goes last, as `rooms` pages the newest last. */
function applyRoomChange(rooms, { kind, roomId, room }) {
    if (kind === 'REMOVED' || !room)
        return rooms.filter((r) => r.id !== roomId);
    const at = rooms.findIndex((r) => r.id === room.id);
    return at === -1 ? [...rooms, room] : rooms.map((r, i) => (i === at ? room : r));
}
/** Close codes after which the SDK stops rather than reconnects. */
const terminalCloses = { 4001: 'revoked', 4002: 'replaced', 4403: 'unauthorized', 4029: 'limit' };
const endMessages = {
    logout: 'Signed out.',
    revoked: 'Your session was ended (signed out elsewhere or revoked).',
    replaced: 'You signed in somewhere else; this session was replaced.',
    unauthorized: 'The server refused the access token.',
    limit: 'No free seats: the server has reached its connection limit.',
};
const toTokens = (auth) => ({
    accessToken: auth.accessToken,
    accessTokenExpiresAt: Date.parse(auth.accessTokenExpiresAt),
    refreshToken: auth.refreshToken,
    refreshTokenExpiresAt: Date.parse(auth.refreshTokenExpiresAt),
});
/** A random idempotency key (getRandomValues also works on plain-http pages, unlike randomUUID). */
export function newIdempotencyKey() {
    const bytes = new Uint8Array(16);
    globalThis.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
/** The longest delay a timer accepts, in browsers and Node alike. */
const maxTimerDelay = 2 ** 31 - 1;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Disposes a graphql-ws client whose socket may have been refused (its dispose then rejects with the close). */
const dispose = (socket) => void Promise.resolve(socket.dispose()).catch(() => undefined);
const isCloseLike = (value) => typeof value === 'object' && value !== null && typeof value.code === 'number';
export class SwitchboardClient {
    url;
    wsUrl;
    fetchImpl;
    options;
    currentTokens;
    refreshing = null;
    refreshTimer;
    reconnectTimer;
    socket = null;
    socketOpen = false;
    /** Bumped on every new socket so callbacks of an old one are ignored. */
    generation = 0;
    attempts = 0;
    everConnected = false;
    currentStatus = 'idle';
    live = new Set();
    listeners = {
        tokens: new Set(),
        status: new Set(),
        ended: new Set(),
        connected: new Set(),
    };
    constructor(options) {
        this.url = options.url;
        this.wsUrl = options.wsUrl ?? options.url.replace(/^http/, 'ws');
        this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
        this.options = {
            refreshBefore: options.refreshBefore ?? 60_000,
            autoRefresh: options.autoRefresh ?? true,
            retryDelay: options.retryDelay ?? 500,
            maxRetryDelay: options.maxRetryDelay ?? 15_000,
            sendAttempts: options.sendAttempts ?? 4,
            webSocketImpl: options.webSocketImpl,
        };
        this.currentTokens = options.tokens ?? null;
        this.scheduleRefresh();
    }
    /** The current tokens (null when signed out). */
    get tokens() {
        return this.currentTokens;
    }
    get status() {
        return this.currentStatus;
    }
    /** Listens to an event; returns the function that stops listening. */
    on(event, listener) {
        this.listeners[event].add(listener);
        return () => this.listeners[event].delete(listener);
    }
    emit(event, value) {
        for (const listener of [...this.listeners[event]])
            listener(value);
    }
    setStatus(status) {
        if (this.currentStatus === status)
            return;
        this.currentStatus = status;
        this.emit('status', status);
    }
    // ---- HTTP ----
    /**
     * Runs a query or mutation over HTTP with the current access token (renewed
     * first when it is about to expire). GraphQL errors throw GraphQLRequestError.
     */
    async request(document, variables, options = {}) {
        const token = options.auth !== false && this.currentTokens ? await this.accessToken() : null;
        return this.post(document, variables, token);
    }
    async post(document, variables, token) {
        let response;
        try {
            response = await this.fetchImpl(this.url, {
                method: 'POST',
                headers: {
                    'content-type': 'application/json',
                    accept: 'application/graphql-response+json, application/json',
                    ...(token ? { authorization: `Bearer ${token}` } : {}),
                },
                body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
            });
        }
        catch (error) {
            throw new TransportError(`request failed: ${error.message}`);
        }
        let body;
        try {
            body = (await response.json());
        }
        catch {
            throw new TransportError(`HTTP ${response.status} without a GraphQL answer`, response.status);
        }
        if (body.errors?.length)
            throw new GraphQLRequestError(body.errors);
        if (!body.data)
            throw new TransportError(`HTTP ${response.status} without data`, response.status);
        return body.data;
    }
    // ---- session ----
    /** Creates an account (it does not sign in). */
    async register(input) {
        return (await this.request(RegisterDocument, { input }, { auth: false })).register;
    }
    /** Signs in, keeps the tokens and opens the live connection. */
    async login(login, password) {
        const { login: auth } = await this.request(LoginDocument, { input: { login, password } }, { auth: false });
        this.teardown();
        this.everConnected = false;
        this.setTokens(toTokens(auth));
        this.connect();
        return auth.user;
    }
    /** Ends the session on the server (every socket of it closes) and here. */
    async logout() {
        const token = this.currentTokens?.accessToken ?? null;
        this.end({ reason: 'logout', message: endMessages.logout });
        if (token)
            await this.post(LogoutDocument, undefined, token).catch(() => undefined);
    }
    /** Closes the socket and timers, keeping the tokens (resume with `connect()`). */
    close() {
        this.teardown();
        for (const op of this.live)
            op.stop?.();
        this.live.clear();
        this.setStatus('idle');
    }
    setTokens(tokens) {
        this.currentTokens = tokens;
        this.scheduleRefresh();
        this.emit('tokens', tokens);
    }
    /** Time to renew before expiry: refreshBefore, at most a quarter of the token's remaining life when it arrived. */
    renewalMargin(tokens) {
        const life = Math.max(0, tokens.accessTokenExpiresAt - Date.now());
        return Math.min(this.options.refreshBefore, life / 4);
    }
    scheduleRefresh() {
        clearTimeout(this.refreshTimer);
        const tokens = this.currentTokens;
        if (!tokens || !this.options.autoRefresh)
            return;
        const due = tokens.accessTokenExpiresAt - this.renewalMargin(tokens) - Date.now();
        // A timer waits at most 2^31 - 1 ms (about 24.8 days) and fires at once past that: a renewal further off is scheduled again then.
        if (due > maxTimerDelay) {
            this.refreshTimer = setTimeout(() => this.scheduleRefresh(), maxTimerDelay);
            return;
        }
        this.refreshTimer = setTimeout(() => {
            this.refresh().catch(() => undefined);
        }, Math.max(0, due));
    }
    /** An access token good for a while yet, refreshing first when it is (nearly) expired. */
    async accessToken() {
        const tokens = this.currentTokens;
        if (!tokens)
            throw new GraphQLRequestError([{ message: 'Sign in first.', extensions: { code: 'UNAUTHENTICATED' } }]);
        if (tokens.accessTokenExpiresAt - Date.now() > 1000)
            return tokens.accessToken;
        return (await this.refresh()).accessToken;
    }
    /**
     * Rotates the refresh token. One refresh at a time: a refresh token works
     * once, and presenting it twice would end the session. Sent over the live
     * socket when it is open, so the server renews that socket in place.
     * A refused refresh ends the session with reason `revoked`.
     */
    refresh() {
        this.refreshing ??= (async () => {
            const tokens = this.currentTokens;
            if (!tokens)
                throw new GraphQLRequestError([{ message: 'Sign in first.', extensions: { code: 'UNAUTHENTICATED' } }]);
            try {
                const variables = { refreshToken: tokens.refreshToken };
                const data = this.socket && this.socketOpen ? await this.overSocket(this.socket, RefreshDocument, variables) : await this.post(RefreshDocument, variables, null);
                const renewed = toTokens(data.refresh);
                this.setTokens(renewed);
                return renewed;
            }
            catch (error) {
                const retriable = error instanceof GraphQLRequestError && (error.code === 'RATE_LIMITED' || error.code === 'INTERNAL_SERVER_ERROR');
                if (error instanceof GraphQLRequestError && !retriable)
                    this.end({ reason: 'revoked', message: endMessages.revoked });
                throw error;
            }
        })().finally(() => {
            this.refreshing = null;
        });
        return this.refreshing;
    }
    /** One query or mutation over the socket. */
    overSocket(socket, document, variables) {
        return new Promise((resolve, reject) => {
            let settled = false;
            socket.subscribe({ query: document.toString(), variables: variables }, {
                next: (result) => {
                    settled = true;
                    if (result.errors?.length)
                        reject(new GraphQLRequestError(result.errors));
                    else
                        resolve(result.data);
                },
                error: (error) => {
                    settled = true;
                    reject(Array.isArray(error) ? new GraphQLRequestError(error) : new TransportError(`socket closed during the request (${isCloseLike(error) ? error.code : 'error'})`));
                },
                complete: () => {
                    if (!settled)
                        reject(new TransportError('socket request completed without an answer'));
                },
            });
        });
    }
    // ---- live connection ----
    /** Opens the live connection (login does it); also tries again after the `limit` end. */
    connect() {
        if (!this.currentTokens || this.socket)
            return;
        clearTimeout(this.reconnectTimer);
        this.open();
    }
    open() {
        const generation = ++this.generation;
        this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
        const socket = createClient({
            url: this.wsUrl,
            webSocketImpl: this.options.webSocketImpl,
            lazy: false,
            retryAttempts: 0,
            keepAlive: 15_000,
            connectionParams: async () => ({ authorization: `Bearer ${await this.accessToken()}` }),
            on: {
                connected: () => {
                    if (generation !== this.generation)
                        return;
                    this.socketOpen = true;
                    this.attempts = 0;
                    const reconnected = this.everConnected;
                    this.everConnected = true;
                    this.setStatus('connected');
                    this.emit('connected', { reconnected });
                    for (const op of this.live)
                        void this.resume(op);
                },
                closed: (event) => this.lost(generation, event),
            },
            onNonLazyError: (error) => this.lost(generation, error),
        });
        this.socket = socket;
    }
    /** The socket of `generation` closed or failed: stop for good, or reconnect with backoff. */
    lost(generation, event) {
        if (generation !== this.generation || !this.socket)
            return;
        const old = this.socket;
        this.socket = null;
        this.socketOpen = false;
        this.generation++;
        dispose(old);
        const code = isCloseLike(event) ? event.code : undefined;
        const reason = code !== undefined ? terminalCloses[code] : undefined;
        if (reason) {
            const serverReason = isCloseLike(event) && event.reason ? event.reason : '';
            const message = reason === 'limit' && /slot|seat/i.test(serverReason) ? endMessages.limit : serverReason || endMessages[reason];
            this.end({ reason, code, message }, reason === 'limit');
            return;
        }
        if (!this.currentTokens)
            return;
        this.setStatus('reconnecting');
        const delay = Math.min(this.options.maxRetryDelay, this.options.retryDelay * 2 ** this.attempts) * (0.5 + Math.random() / 2);
        this.attempts++;
        this.reconnectTimer = setTimeout(() => {
            if (!this.socket && this.currentTokens)
                this.open();
        }, delay);
    }
    teardown() {
        clearTimeout(this.refreshTimer);
        clearTimeout(this.reconnectTimer);
        this.generation++;
        this.socketOpen = false;
        const socket = this.socket;
        this.socket = null;
        if (socket)
            dispose(socket);
    }
    /**
     * Stops: closes the socket, forgets the tokens (unless `keepTokens`, for a
     * refused seat) and reports why. Subscriptions are kept for a later
     * `connect()` only when the tokens are kept.
     */
    end(end, keepTokens = false) {
        if (this.currentStatus === 'ended' && !this.currentTokens)
            return;
        this.teardown();
        if (!keepTokens) {
            for (const op of this.live)
                op.stop?.();
            this.live.clear();
            this.setTokens(null);
        }
        this.setStatus('ended');
        this.emit('ended', end);
    }
    /** (Re)starts one live operation on the current socket. */
    async resume(op) {
        const socket = this.socket;
        const generation = this.generation;
        if (!socket || !this.socketOpen || !this.live.has(op))
            return;
        if (op.prepare) {
            try {
                await op.prepare();
            }
            catch (error) {
                // Refused (not a member, no such room): the operation ends. Otherwise
                // the connection is likely down again, and the next one retries.
                if (error instanceof GraphQLRequestError && this.live.delete(op))
                    op.error(error);
                return;
            }
            if (generation !== this.generation || !this.socketOpen || !this.live.has(op))
                return;
        }
        op.generation = generation;
        op.stop = socket.subscribe({ query: op.query, variables: op.variables() }, {
            next: (result) => {
                if (op.generation !== this.generation)
                    return;
                if (result.errors?.length && !result.data) {
                    this.live.delete(op);
                    op.error(new GraphQLRequestError(result.errors));
                }
                else
                    op.next(result.data);
            },
            error: (error) => {
                // A close is not the operation's end: the next connection resumes it.
                if (op.generation !== this.generation || !Array.isArray(error))
                    return;
                this.live.delete(op);
                op.error(new GraphQLRequestError(error));
            },
            complete: () => {
                if (op.generation !== this.generation || !this.live.has(op))
                    return;
                this.live.delete(op);
                op.complete();
            },
        });
    }
    addLive(op) {
        const entry = { ...op, generation: -1 };
        this.live.add(entry);
        void this.resume(entry);
        return {
            unsubscribe: () => {
                if (!this.live.delete(entry))
                    return;
                entry.stop?.();
            },
        };
    }
    /**
     * A subscription that lives across reconnects (restarted with the same
     * variables on each new connection).
     */
    subscribe(document, variables, handlers) {
        return this.addLive({
            query: document.toString(),
            variables: () => (variables ?? {}),
            next: (data) => handlers.next(data),
            error: (error) => handlers.error?.(error),
            complete: () => handlers.complete?.(),
        });
    }
    /**
     * A room's messages, in order, exactly once each, across reconnects: each
     * resubscription asks for the messages after the last one delivered.
     * Without `after` it starts at the room's newest message, read before the
     * first subscription (`Room.messagesCursor`; the room's start while it is
     * empty), so nothing sent after this call is missed, not even during the
     * first connection or a drop before anything was delivered.
     */
    roomMessages(roomId, handlers, options = {}) {
        let cursor = options.after ?? null;
        return this.addLive({
            query: RoomMessagesDocument.toString(),
            variables: () => ({ roomId, after: cursor }),
            // Still null when the room is not readable: the subscription then ends with the server's refusal.
            prepare: async () => {
                if (cursor === null)
                    cursor = (await this.request(RoomMessagesCursorDocument, { roomId })).room?.messagesCursor ?? null;
            },
            next: (data) => {
                const message = data.roomMessages;
                cursor = message.cursor;
                handlers.next(message);
            },
            error: (error) => handlers.error?.(error),
            complete: () => handlers.complete?.(),
        });
    }
    /**
     * The rooms the user may see, kept current: read with `rooms` whenever
     * roomListChanges says RESYNC (as every subscription starts, so at each
     * connect too, and after the server's outage), then changed by each change
     * it tells. Changes heard while a read is under way are applied again to
     * what it read, which may predate them.
     */
    liveRooms(handlers, options = {}) {
        const pageSize = options.pageSize ?? 100;
        const maxPages = options.maxPages ?? 100;
        let rooms = [];
        let stopped = false;
        /** Per read under way, the changes heard since it began. */
        const heardDuringReads = new Set();
        const read = async () => {
            const heard = [];
            heardDuringReads.add(heard);
            try {
                const found = [];
                let after;
                for (let page = 0; page < maxPages; page++) {
                    const { rooms: connection } = await this.request(RoomsDocument, { first: pageSize, after });
                    found.push(...connection.edges.map((edge) => edge.node));
                    if (!connection.pageInfo.hasNextPage)
                        break;
                    after = connection.pageInfo.endCursor;
                }
                if (stopped)
                    return;
                rooms = heard.reduce(applyRoomChange, found);
                handlers.next(rooms, null);
            }
            finally {
                heardDuringReads.delete(heard);
            }
        };
        const subscription = this.addLive({
            query: RoomListChangesDocument.toString(),
            variables: () => ({}),
            next: (data) => {
                const change = data.roomListChanges;
                if (change.kind === 'RESYNC')
                    return void read().catch((error) => handlers.readFailed?.(error));
                for (const heard of heardDuringReads)
                    heard.push(change);
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
    /**
     * Sends a message. When the answer is lost (network error, 5xx), it sends
     * again with the same idempotency key: the server stores it once and
     * answers with the first message.
     */
    async sendMessage(roomId, body, options = {}) {
        const idempotencyKey = options.idempotencyKey ?? newIdempotencyKey();
        for (let attempt = 1;; attempt++) {
            try {
                return (await this.request(SendMessageDocument, { roomId, body, idempotencyKey })).sendMessage;
            }
            catch (error) {
                const transient = error instanceof TransportError && (error.status === undefined || error.status >= 500);
                if (!transient || attempt >= this.options.sendAttempts)
                    throw error;
                await sleep(Math.min(this.options.maxRetryDelay, this.options.retryDelay * 2 ** (attempt - 1)));
            }
        }
    }
}
