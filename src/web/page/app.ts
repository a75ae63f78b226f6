/**
 * The web page at / : sign in or register, seats, online users, rooms and a
 * room's live messages and members, on the client SDK; an owner removes
 * members, invites online users into a private room and deletes the room. Every text from the
 * server is set with textContent, never parsed as HTML.
 */
import {
  CreateRoomDocument,
  DeleteRoomDocument,
  InviteToRoomDocument,
  JoinRoomDocument,
  LeaveRoomDocument,
  MessagesDocument,
  OnlineUsersDocument,
  PresenceDocument,
  RemoveFromRoomDocument,
  RoomDocument,
  RoomInvitationsDocument,
  RoomPresenceDocument,
  SecondFactorStatusDocument,
  SlotsChangedDocument,
} from '../../../client/documents.ts';
import QRCode from 'qrcode';
import type { MessageFieldsFragment, PresenceStatus, RoomFieldsFragment } from '../../../client/gql/graphql.ts';
import { GraphQLRequestError, SwitchboardClient, secondFactorChallenge, type LiveRoomList, type Subscription, type Tokens } from '../../../client/sdk.ts';
import { boundKeyOf } from '../../../client/dpop.ts';
import { deleteExpiredKeys, deleteKey, keepKey, loadKey } from './dpop-keys.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Creates an element with text content (never HTML) and optional classes. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = '', className = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

const storageKey = 'switchboard.session';
interface Stored {
  tokens: Tokens;
  user: { id: string; username: string };
}
const load = (): Stored | null => {
  try {
    return JSON.parse(sessionStorage.getItem(storageKey) ?? 'null') as Stored | null;
  } catch {
    return null;
  }
};

// ---- sign-in through an identity provider (src/auth/oidc-routes.ts) ----
// The server's callback set the HttpOnly refresh cookie and sent the browser here with #oidc=signed-in: one
// refresh with that cookie and a proof of the DPoP key the start named becomes this page's session
// (completeOidcSignIn). The key crossed the navigation in IndexedDB (./dpop-keys.ts), filed under the
// thumbprint kept in sessionStorage, which the tab keeps across the trip to the provider.
const oidcMessages: Record<string, string> = {
  no_sign_in: 'That sign-in expired, was already used, or was started in another browser. Try again.',
  state_mismatch: 'The identity provider sent back a different sign-in. Try again.',
  nonce_mismatch: 'The identity provider’s answer does not belong to this sign-in. Try again.',
  code_rejected: 'The identity provider refused the sign-in code (expired or already used). Try again.',
  provider_refused: 'The identity provider did not sign you in.',
  provider_error: 'The identity provider could not be reached. Try again later.',
  email_taken: 'An account with this email already exists here: sign in with its password.',
  already_linked: 'The account with this email is already linked to another identity at this provider.',
  rate_limited: 'Too many sign-ins were started from this address; try again later.',
  dpop_required: 'This server accepts only key-bound (DPoP) sessions, and this browser could not keep the page’s key through the identity provider’s sign-in (no IndexedDB, as in some private windows).',
};
const oidcKeyStorage = 'switchboard.oidc-key';
const oidcOutcome = new URLSearchParams(location.hash.slice(1));
let oidcFailure: string | null = oidcOutcome.get('oidc-error');
const oidcSignedIn = oidcOutcome.get('oidc') === 'signed-in';
if (oidcSignedIn || oidcFailure) history.replaceState(null, '', location.pathname + location.search);
/** The thumbprint of the key a started sign-in named: its pair is this page's key once the browser is back. */
const oidcJkt = sessionStorage.getItem(oidcKeyStorage);
sessionStorage.removeItem(oidcKeyStorage);
// ---- end of sign-in through an identity provider ----

// The key to resume with: the one the provider's sign-in named, or the one the stored tokens are bound to (a bound
// session whose key is gone cannot be resumed: it signs in again).
await deleteExpiredKeys();
const stored = oidcSignedIn ? null : load();
const resumedJkt = oidcSignedIn ? oidcJkt : stored && boundKeyOf(stored.tokens.accessToken);
const resumedKey = resumedJkt ? await loadKey(resumedJkt) : null;
if (oidcJkt && !oidcSignedIn) await deleteKey(oidcJkt);
const resumed = stored && (!resumedJkt || resumedKey) ? stored : null;
const client = new SwitchboardClient({ url: new URL('/graphql', location.href).toString(), tokens: resumed?.tokens ?? null, dpopKey: resumedKey ?? undefined });
let me: Stored['user'] | null = resumed?.user ?? null;

/** The thumbprint of the key kept in IndexedDB for this page's session (or its sign-in). */
let keptJkt = resumedKey ? resumedJkt : null;
let keeping = Promise.resolve();
/** Keeps a bound session's key in IndexedDB until its refresh token expires, and deletes it when the session ends (logout too). */
function keepSessionKey(tokens: Tokens | null) {
  keeping = keeping.then(async () => {
    const jkt = tokens ? boundKeyOf(tokens.accessToken) : null;
    if (keptJkt && keptJkt !== jkt) await deleteKey(keptJkt);
    keptJkt = null;
    if (!jkt || !tokens) return;
    const { keyPair, thumbprint } = await client.currentDpopKey();
    // Not when the session ended meanwhile: the client then holds no key, or another one.
    if (thumbprint !== jkt) return;
    keptJkt = jkt;
    await keepKey(jkt, keyPair, tokens.refreshTokenExpiresAt);
  });
}

client.on('tokens', (tokens) => {
  if (tokens && me) sessionStorage.setItem(storageKey, JSON.stringify({ tokens, user: me }));
  else sessionStorage.removeItem(storageKey);
  keepSessionKey(tokens);
});

// ---- notices ----

function notify(text: string, kind: 'error' | 'info' = 'error', retry = false) {
  $('notice').hidden = false;
  $('notice').className = kind === 'info' ? 'info' : '';
  $('notice-text').textContent = text;
  $('retry').hidden = !retry;
}
const clearNotice = () => ($('notice').hidden = true);
const describe = (error: unknown) => (error instanceof GraphQLRequestError ? error.message : `Could not reach the server (${(error as Error).message}).`);

// ---- connection status and session end ----

const statusText: Record<string, [string, string]> = {
  idle: ['offline', ''],
  connecting: ['connecting…', 'warn'],
  connected: ['live', 'ok'],
  reconnecting: ['reconnecting…', 'warn'],
  ended: ['disconnected', 'bad'],
};
client.on('status', (status) => {
  const [text, kind] = statusText[status] ?? [status, ''];
  $('connection').textContent = text;
  $('connection').className = `pill ${kind}`;
});

// The room list reads itself at each connect (roomListChanges starts with RESYNC).
client.on('connected', () => {
  clearNotice();
  void refreshOnline();
});

client.on('ended', (end) => {
  if (end.reason === 'limit') {
    notify(/slot|seat/i.test(end.message) ? 'No free seats: every connection seat is taken right now. Try again in a moment.' : `Connection refused: ${end.message}`, 'error', true);
    return;
  }
  if (end.reason !== 'logout') notify(end.message);
  showSignedOut();
});

$('dismiss').addEventListener('click', clearNotice);
$('retry').addEventListener('click', () => {
  clearNotice();
  client.connect();
});

// ---- sign in, register, sign out ----

function showSignedIn() {
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('logout').hidden = false;
  $('whoami').textContent = me ? `Signed in as ${me.username}` : '';
  startLive();
  void refreshSecondFactor();
}

function showSignedOut() {
  stopLive();
  closeRoom();
  me = null;
  $('signed-out').hidden = false;
  $('signed-in').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  $('seats').textContent = 'Seats –';
  $('enrol').hidden = true;
  $('second-factor-form').hidden = true;
  $('login-form').hidden = false;
}

async function signIn(login: string, password: string) {
  let user: { id: string; username: string };
  try {
    user = await client.login(login, password);
  } catch (error) {
    // Two-factor sign-in: ask for the code, or (an admin who must) enrol first.
    const challenge = secondFactorChallenge(error);
    if (!challenge) throw error;
    if (challenge.enrolment) {
      notify('Admins must set up two-factor sign-in before signing in.', 'info');
      await startEnrolment(challenge.challenge);
    } else {
      $('login-form').hidden = true;
      $('second-factor-form').hidden = false;
      $('second-factor-form').querySelector('input')?.focus();
    }
    return;
  }
  signedIn(user);
}

function signedIn(user: { id: string; username: string }) {
  me = { id: user.id, username: user.username };
  if (client.tokens) sessionStorage.setItem(storageKey, JSON.stringify({ tokens: client.tokens, user: me }));
  showSignedIn();
}

function formValues(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v)]));
}

function onSubmit(id: string, handler: (values: Record<string, string>, form: HTMLFormElement) => Promise<void>) {
  const form = $<HTMLFormElement>(id);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    try {
      await handler(formValues(form), form);
    } catch (error) {
      notify(describe(error));
    } finally {
      if (button) button.disabled = false;
    }
  });
}

onSubmit('login-form', async ({ login, password }) => {
  clearNotice();
  await signIn(login!, password!);
});

// ---- two-factor sign-in ----

onSubmit('second-factor-form', async ({ code }, form) => {
  clearNotice();
  const user = await client.completeLogin(code!);
  form.reset();
  form.hidden = true;
  $('login-form').hidden = false;
  signedIn(user);
});

/** The enrolment challenge of an admin signing in under ADMIN_REQUIRE_2FA; undefined when signed in. */
let enrolmentChallenge: string | undefined;

/** Shows the otpauth:// URI as a QR code (also kept in data-uri) and the key to type, and waits for the first code. */
async function startEnrolment(challenge?: string) {
  const { uri, secret } = await client.enrolSecondFactor(challenge);
  enrolmentChallenge = challenge;
  const canvas = $<HTMLCanvasElement>('enrol-qr');
  canvas.dataset.uri = uri;
  await QRCode.toCanvas(canvas, uri, { margin: 2, scale: 5 });
  $('enrol-secret').textContent = secret;
  $('enrol-confirm-form').hidden = false;
  $('enrol-done').hidden = true;
  $('enrol').hidden = false;
}

onSubmit('enrol-confirm-form', async ({ code }, form) => {
  clearNotice();
  const { recoveryCodes, user } = await client.confirmSecondFactor(code!, enrolmentChallenge);
  enrolmentChallenge = undefined;
  form.reset();
  form.hidden = true;
  $('recovery-codes').replaceChildren(...recoveryCodes.map((c) => el('li', c)));
  $('enrol-done').hidden = false;
  if (user) signedIn(user);
  else void refreshSecondFactor();
});

$('enrol-close').addEventListener('click', () => {
  $('enrol').hidden = true;
  $('recovery-codes').replaceChildren();
});

$('two-factor-enable').addEventListener('click', () => {
  startEnrolment().catch((error: unknown) => notify(describe(error)));
});

onSubmit('two-factor-disable-form', async ({ code }, form) => {
  clearNotice();
  await client.disableSecondFactor(code!);
  form.reset();
  notify('Two-factor sign-in is off.', 'info');
  await refreshSecondFactor();
});

/** Shows whether the signed-in user has a second factor, with the matching control. */
async function refreshSecondFactor() {
  try {
    const { me: user } = await client.request(SecondFactorStatusDocument);
    const enabled = user?.secondFactorEnabled === true;
    $('two-factor-status').textContent = enabled ? 'on' : 'off';
    $('two-factor').dataset.enabled = String(enabled);
    $('two-factor-enable').hidden = enabled;
    $('two-factor-disable-form').hidden = !enabled;
  } catch (error) {
    notify(describe(error));
  }
}

onSubmit('register-form', async ({ username, email, password }) => {
  clearNotice();
  await client.register({ username: username!, email: email!, password: password! });
  await signIn(username!, password!);
});

$('logout').addEventListener('click', () => {
  void client.logout();
});

// ---- seats and online users ----

let live: Subscription[] = [];
/** The rooms this user may see, kept current by the SDK while signed in. */
let roomList: LiveRoomList | null = null;
const online = new Map<string, { username: string; status: PresenceStatus }>();

function startLive() {
  stopLive();
  client.connect();
  live.push(
    client.subscribe(SlotsChangedDocument, {}, {
      next: ({ connectionSlots: s }) => {
        $('seats').textContent = `Seats ${s.used}/${s.max}`;
        $('seats').className = `pill ${s.available === 0 ? 'bad' : 'ok'}`;
      },
    }),
    client.subscribe(PresenceDocument, {}, {
      next: ({ presence }) => {
        if (presence.status === 'OFFLINE') online.delete(presence.user.id);
        else online.set(presence.user.id, { username: presence.user.username, status: presence.status });
        renderOnline();
        updateMemberPresence(presence.user.id, presence.status);
      },
    }),
    client.subscribe(RoomInvitationsDocument, {}, {
      next: ({ roomInvitations: { room, invitedBy } }) => notify(`${invitedBy?.username ?? 'Someone'} invited you to ${room.name}.`, 'info'),
    }),
    (roomList = client.liveRooms({
      next: (_rooms, change) => {
        renderRooms();
        // The open room renamed, or opened or closed to others (which decides who may be invited).
        const room = change?.room;
        if (room && openRoom?.id === room.id) {
          Object.assign(openRoom, { name: room.name, permission: room.permission });
          $('room-name').textContent = room.name;
          renderOnline();
        }
      },
      readFailed: (error) => notify(describe(error)),
    })),
  );
}

function stopLive() {
  for (const s of live) s.unsubscribe();
  live = [];
  roomList = null;
  renderRooms();
  online.clear();
  renderOnline();
}

async function refreshOnline() {
  try {
    const { onlineUsers } = await client.request(OnlineUsersDocument);
    online.clear();
    for (const u of onlineUsers) online.set(u.id, { username: u.username, status: u.presence });
    renderOnline();
  } catch (error) {
    notify(describe(error));
  }
}

function presenceItem(username: string, status: PresenceStatus, userId: string): HTMLLIElement {
  const li = el('li');
  li.dataset.userId = userId;
  const dot = el('span', '', `dot ${status}`);
  dot.title = status.toLowerCase();
  li.append(dot, el('span', username, 'name'), el('span', status.toLowerCase(), 'muted status'));
  return li;
}

/** Online users; while the signed-in user has its own private room open, those not in it yet carry an Invite button. */
function renderOnline() {
  const room = openRoom;
  const invites = room?.manages && room.permission === 'PRIVATE' ? room : null;
  $('online').replaceChildren(
    ...[...online]
      .sort((a, b) => a[1].username.localeCompare(b[1].username))
      .map(([id, u]) => {
        const li = presenceItem(u.username, u.status, id);
        if (invites && !invites.members.has(id)) {
          const invited = invites.invited.has(id);
          const invite = el('button', invited ? 'Invited' : 'Invite', 'secondary invite');
          invite.title = `Invite ${u.username} to ${invites.name}`;
          invite.disabled = invited;
          invite.addEventListener('click', () => void inviteUser(invites, id));
          li.append(invite);
        }
        return li;
      }),
  );
  $('online-count').textContent = online.size ? `(${online.size})` : '';
}

/** The invitee hears of it (roomInvitations) and finds the room in its list. */
async function inviteUser(room: NonNullable<typeof openRoom>, userId: string) {
  try {
    await client.request(InviteToRoomDocument, { roomId: room.id, userId });
    room.invited.add(userId);
    renderOnline();
  } catch (error) {
    notify(describe(error));
  }
}

// ---- rooms ----

/** Reads the list again: after the user's own changes (shown without waiting for roomListChanges to tell them), and on demand. */
async function refreshRooms() {
  try {
    await roomList?.refresh();
  } catch (error) {
    notify(describe(error));
  }
}

function renderRooms() {
  $('rooms').replaceChildren(
    ...(roomList?.rooms ?? []).map((room) => {
      const li = el('li', '', room.id === openRoom?.id ? 'active' : '');
      const open = el('button', 'Open', 'secondary');
      open.addEventListener('click', () => void showRoom(room.id));
      li.append(el('span', room.name, 'name'), el('span', `${room.memberCount}`, 'muted'), open);
      li.dataset.roomName = room.name;
      return li;
    }),
  );
}

// Also read again on demand and when the page is looked at again.
$('refresh-rooms').addEventListener('click', () => void refreshRooms());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && me) void refreshRooms();
});

onSubmit('create-room-form', async ({ name, permission }, form) => {
  const { createRoom } = await client.request(CreateRoomDocument, { input: { name: name!, permission: permission as RoomFieldsFragment['permission'] } });
  form.reset();
  await refreshRooms();
  await showRoom(createRoom.id);
});

// ---- one room ----

let openRoom: {
  id: string;
  name: string;
  permission: RoomFieldsFragment['permission'];
  ownerId: string;
  /** The signed-in user owns the room: it may remove members and delete the room. */
  manages: boolean;
  subscriptions: Subscription[];
  members: Map<string, { username: string; status: PresenceStatus }>;
  /** Users invited from this page while the room is open. */
  invited: Set<string>;
} | null = null;

function closeRoom() {
  for (const s of openRoom?.subscriptions ?? []) s.unsubscribe();
  openRoom = null;
  $('room-view').hidden = true;
  $('room-empty').hidden = false;
  $('messages').replaceChildren();
  $('members').replaceChildren();
  renderOnline();
}

function renderMembers() {
  const room = openRoom;
  if (!room) return;
  $('members').replaceChildren(
    ...[...room.members]
      .sort((a, b) => a[1].username.localeCompare(b[1].username))
      .map(([id, m]) => {
        const li = presenceItem(m.username, m.status, id);
        if (room.manages && id !== room.ownerId) {
          const remove = el('button', 'Remove', 'secondary remove');
          remove.title = `Remove ${m.username} from this room`;
          remove.addEventListener('click', () => void removeMember(room.id, id));
          li.append(remove);
        }
        return li;
      }),
  );
  // Who is a member decides who may be invited.
  renderOnline();
}

/** Its LEFT, arriving over roomPresence, takes the member off the list. */
async function removeMember(roomId: string, userId: string) {
  try {
    await client.request(RemoveFromRoomDocument, { roomId, userId });
    await refreshRooms();
  } catch (error) {
    notify(describe(error));
  }
}

function updateMemberPresence(userId: string, status: PresenceStatus) {
  const member = openRoom?.members.get(userId);
  if (!member) return;
  member.status = status;
  renderMembers();
}

function appendMessage(message: MessageFieldsFragment) {
  const list = $('messages');
  const li = el('li');
  li.dataset.id = message.id;
  const time = new Date(message.createdAt);
  li.append(el('span', time.toLocaleTimeString(), 'time'), el('span', message.author.username, 'author'), el('span', message.body, 'body'));
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 20;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

async function showRoom(roomId: string) {
  closeRoom();
  const { room } = await client.request(RoomDocument, { id: roomId });
  if (!room) {
    notify('That room is gone, or no longer open to you.');
    await refreshRooms();
    return;
  }
  const members = new Map(room.members.map((m) => [m.id, { username: m.username, status: m.presence }]));
  const isMember = me !== null && members.has(me.id);
  const manages = me !== null && room.owner.id === me.id;
  openRoom = { id: room.id, name: room.name, permission: room.permission, ownerId: room.owner.id, manages, subscriptions: [], members, invited: new Set() };
  $('room-empty').hidden = true;
  $('room-view').hidden = false;
  $('room-name').textContent = room.name;
  $('join-room').hidden = isMember;
  $('leave-room').hidden = !isMember;
  $('delete-room').hidden = !manages;
  $('send-form').hidden = !isMember;
  renderMembers();
  renderRooms();
  if (!isMember) {
    $('messages').replaceChildren(el('li', 'Join this room to read and send messages.', 'muted'));
    return;
  }
  const current = openRoom;
  const { messages } = await client.request(MessagesDocument, { roomId: room.id, last: 50 });
  if (openRoom !== current) return;
  for (const edge of messages.edges) appendMessage(edge.node);
  const after = messages.edges.at(-1)?.node.cursor;
  current.subscriptions.push(
    client.roomMessages(room.id, { next: appendMessage, error: (error) => void roomStreamEnded(current, error) }, after ? { after } : {}),
    client.subscribe(RoomPresenceDocument, { roomId: room.id }, {
      next: ({ roomPresence: event }) => {
        if (event.kind === 'LEFT') current.members.delete(event.user.id);
        else current.members.set(event.user.id, { username: event.user.username, status: event.status });
        renderMembers();
      },
    }),
  );
}

/** Removed, or the room changed or went: the stream ends with FORBIDDEN, and the room is shown as it now is to this user. */
async function roomStreamEnded(room: NonNullable<typeof openRoom>, error: unknown) {
  if (!(error instanceof GraphQLRequestError && error.code === 'FORBIDDEN')) return notify(describe(error));
  notify('You are no longer a member of this room.', 'info');
  await refreshRooms();
  if (openRoom === room) await showRoom(room.id);
}

$('join-room').addEventListener('click', async () => {
  if (!openRoom) return;
  try {
    await client.request(JoinRoomDocument, { roomId: openRoom.id });
    const id = openRoom.id;
    await refreshRooms();
    await showRoom(id);
  } catch (error) {
    notify(describe(error));
  }
});

$('leave-room').addEventListener('click', async () => {
  const room = openRoom;
  if (!room) return;
  // The user's own LEFT ends the room's streams with FORBIDDEN: they stop first, so that leaving is not told as being removed.
  for (const s of room.subscriptions.splice(0)) s.unsubscribe();
  try {
    await client.request(LeaveRoomDocument, { roomId: room.id });
    await refreshRooms();
  } catch (error) {
    notify(describe(error));
  }
  await showRoom(room.id);
});

$('delete-room').addEventListener('click', async () => {
  const room = openRoom;
  if (!room || !window.confirm('Delete this room and all its messages?')) return;
  try {
    await client.request(DeleteRoomDocument, { id: room.id });
    closeRoom();
    await refreshRooms();
  } catch (error) {
    notify(describe(error));
  }
});

onSubmit('send-form', async ({ body }, form) => {
  if (!openRoom || !body) return;
  await client.sendMessage(openRoom.id, body);
  form.reset();
});

if (client.tokens && me) showSignedIn();
else if (oidcSignedIn) {
  try {
    signedIn(await client.completeOidcSignIn());
  } catch (error) {
    keepSessionKey(null);
    oidcFailure = `The sign-in could not be finished (${error instanceof GraphQLRequestError ? error.message : (error as Error).message}).`;
  }
}

/**
 * Starts a sign-in through the provider bound to this page's key, always, not only when the server requires
 * DPoP: the page cannot learn that before it leaves (a refusal comes back after a trip), a bound session is
 * accepted by every server, and its tokens are useless to whoever copies them out of sessionStorage. When the
 * key cannot be kept (no IndexedDB), the start names none: the server then refuses only if it requires a key.
 */
async function startOidcSignIn(start: string) {
  let url = await client.oidcStartUrl(start);
  const { keyPair, thumbprint } = await client.currentDpopKey();
  // Longer than a started sign-in lives (SIGN_IN_TTL in src/auth/oidc.ts); its session files the key anew.
  if (await keepKey(thumbprint, keyPair, Date.now() + 3_600_000)) sessionStorage.setItem(oidcKeyStorage, thumbprint);
  else url = new URL(start, location.href).href;
  location.assign(url);
}

// The identity provider's button, when the server has one; and how a sign-in through it failed.
if (oidcFailure) notify(oidcMessages[oidcFailure] ?? (oidcFailure.includes(' ') ? oidcFailure : 'The sign-in through the identity provider failed. Try again.'));
void fetch(new URL('/auth/providers', location.href))
  .then((response) => response.json() as Promise<{ providers: { id: string; name: string; start: string }[] }>)
  .then(({ providers }) => {
    const provider = providers[0];
    if (!provider) return;
    $('oidc-start').textContent = `Sign in with ${provider.name}`;
    $('oidc-start').setAttribute('href', provider.start);
    $('oidc-start').addEventListener('click', (event) => {
      event.preventDefault();
      startOidcSignIn(provider.start).catch((error: unknown) => notify(describe(error)));
    });
    $('oidc').hidden = false;
  })
  .catch(() => undefined);
