/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type CreateRoomInput = {
  allowedRoles?: Array<string> | null | undefined;
  maxMembers?: number | null | undefined;
  name: string;
  permission?: RoomPermission | null | undefined;
};

export type LoginInput = {
  /** The device token an earlier login gave this client (AuthPayload.deviceToken); a browser's cookie is read when omitted. */
  deviceToken?: string | null | undefined;
  /** Username or email. */
  login: string;
  password: string;
};

export type PresenceStatus =
  | 'AWAY'
  | 'OFFLINE'
  | 'ONLINE';

export type RegisterInput = {
  email: string;
  password: string;
  username: string;
};

export type RoomListChangeKind =
  /** A room the caller can see now and could not before: made, opened to it, or it was invited. */
  | 'ADDED'
  /** A room the caller still sees whose name, settings or member count changed. */
  | 'CHANGED'
  /** A room the caller no longer sees: deleted, closed to it, or it was removed from it or left a room it may not join. */
  | 'REMOVED'
  /** Read `rooms` now, then apply the changes that follow: first when the subscription starts listening, again when changes may have been missed (this server was cut off from the others for a moment). */
  | 'RESYNC';

export type RoomPermission =
  /** Only the owner may join. */
  | 'OWNER_ONLY'
  /** Only the owner and invited users may join. */
  | 'PRIVATE'
  /** Any signed-in user may join. */
  | 'PUBLIC'
  /** Only users holding one of the room's allowedRoles (or admins) may join. */
  | 'RESTRICTED';

export type RoomPresenceKind =
  | 'JOINED'
  | 'LEFT'
  | 'STATUS';

export type SecondFactorLoginInput = {
  /** extensions.challenge of the SECOND_FACTOR_REQUIRED error that login answered. */
  challenge: string;
  /** The 6 digits the authenticator app shows, or an unused recovery code. */
  code: string;
  /** The device token sent with that login (a browser's cookie is read when omitted). */
  deviceToken?: string | null | undefined;
};

export type UpdateRoomInput = {
  allowedRoles?: Array<string> | null | undefined;
  maxMembers?: number | null | undefined;
  name?: string | null | undefined;
  permission?: RoomPermission | null | undefined;
};

export type UserFieldsFragment = { id: string, username: string, presence: PresenceStatus };

export type MessageFieldsFragment = { id: string, body: string, cursor: string, createdAt: string, author: { id: string, username: string, presence: PresenceStatus } };

export type RoomFieldsFragment = { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } };

export type AuthFieldsFragment = { accessToken: string, accessTokenExpiresAt: string, refreshToken: string, refreshTokenExpiresAt: string, user: { id: string, username: string, email: string | null, roles: Array<string> } };

export type LoginMutationVariables = Exact<{
  input: LoginInput;
}>;


export type LoginMutation = { login: { deviceToken: string | null, accessToken: string, accessTokenExpiresAt: string, refreshToken: string, refreshTokenExpiresAt: string, user: { id: string, username: string, email: string | null, roles: Array<string> } } };

export type RegisterMutationVariables = Exact<{
  input: RegisterInput;
}>;


export type RegisterMutation = { register: { id: string, username: string, presence: PresenceStatus } };

export type RefreshMutationVariables = Exact<{
  refreshToken?: string | null | undefined;
}>;


export type RefreshMutation = { refresh: { accessToken: string, accessTokenExpiresAt: string, refreshToken: string, refreshTokenExpiresAt: string, user: { id: string, username: string, email: string | null, roles: Array<string> } } };

export type LogoutMutationVariables = Exact<{ [key: string]: never; }>;


export type LogoutMutation = { logout: boolean };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { email: string | null, roles: Array<string>, id: string, username: string, presence: PresenceStatus } | null };

export type SlotsQueryVariables = Exact<{ [key: string]: never; }>;


export type SlotsQuery = { connectionSlots: { used: number, max: number, available: number } };

export type SlotsChangedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type SlotsChangedSubscription = { connectionSlots: { used: number, max: number, available: number } };

export type OnlineUsersQueryVariables = Exact<{ [key: string]: never; }>;


export type OnlineUsersQuery = { onlineUsers: Array<{ id: string, username: string, presence: PresenceStatus }> };

export type PresenceSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type PresenceSubscription = { presence: { status: PresenceStatus, at: string, user: { id: string, username: string, presence: PresenceStatus } } };

export type SetPresenceMutationVariables = Exact<{
  status: PresenceStatus;
}>;


export type SetPresenceMutation = { setPresence: PresenceStatus };

export type RoomsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type RoomsQuery = { rooms: { edges: Array<{ cursor: string, node: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type RoomQueryVariables = Exact<{
  id: string | number;
}>;


export type RoomQuery = { room: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, members: Array<{ id: string, username: string, presence: PresenceStatus }>, online: Array<{ id: string }>, owner: { id: string, username: string } } | null };

export type CreateRoomMutationVariables = Exact<{
  input: CreateRoomInput;
}>;


export type CreateRoomMutation = { createRoom: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } } };

export type JoinRoomMutationVariables = Exact<{
  roomId: string | number;
}>;


export type JoinRoomMutation = { joinRoom: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } } };

export type LeaveRoomMutationVariables = Exact<{
  roomId: string | number;
}>;


export type LeaveRoomMutation = { leaveRoom: boolean };

export type UpdateRoomMutationVariables = Exact<{
  id: string | number;
  input: UpdateRoomInput;
}>;


export type UpdateRoomMutation = { updateRoom: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } } };

export type DeleteRoomMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteRoomMutation = { deleteRoom: boolean };

export type InviteToRoomMutationVariables = Exact<{
  roomId: string | number;
  userId: string | number;
}>;


export type InviteToRoomMutation = { inviteToRoom: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } } };

export type RemoveFromRoomMutationVariables = Exact<{
  roomId: string | number;
  userId: string | number;
}>;


export type RemoveFromRoomMutation = { removeFromRoom: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } } };

export type MessagesQueryVariables = Exact<{
  roomId: string | number;
  last?: number | null | undefined;
  before?: string | null | undefined;
}>;


export type MessagesQuery = { messages: { edges: Array<{ cursor: string, node: { id: string, body: string, cursor: string, createdAt: string, author: { id: string, username: string, presence: PresenceStatus } } }>, pageInfo: { hasPreviousPage: boolean, startCursor: string | null } } };

export type SendMessageMutationVariables = Exact<{
  roomId: string | number;
  body: string;
  idempotencyKey?: string | null | undefined;
}>;


export type SendMessageMutation = { sendMessage: { id: string, body: string, cursor: string, createdAt: string, author: { id: string, username: string, presence: PresenceStatus } } };

export type RoomMessagesCursorQueryVariables = Exact<{
  roomId: string | number;
}>;


export type RoomMessagesCursorQuery = { room: { id: string, messagesCursor: string | null } | null };

export type RoomMessagesSubscriptionVariables = Exact<{
  roomId: string | number;
  after?: string | null | undefined;
}>;


export type RoomMessagesSubscription = { roomMessages: { id: string, body: string, cursor: string, createdAt: string, author: { id: string, username: string, presence: PresenceStatus } } };

export type RoomInvitationsSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type RoomInvitationsSubscription = { roomInvitations: { at: string, room: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } }, invitedBy: { id: string, username: string } | null } };

export type RoomListChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type RoomListChangesSubscription = { roomListChanges: { kind: RoomListChangeKind, roomId: string | null, room: { id: string, name: string, permission: RoomPermission, memberCount: number, maxMembers: number, owner: { id: string, username: string } } | null } };

export type RoomPresenceSubscriptionVariables = Exact<{
  roomId: string | number;
}>;


export type RoomPresenceSubscription = { roomPresence: { kind: RoomPresenceKind, status: PresenceStatus, at: string, user: { id: string, username: string, presence: PresenceStatus } } };

export type LoginWithSecondFactorMutationVariables = Exact<{
  input: SecondFactorLoginInput;
}>;


export type LoginWithSecondFactorMutation = { loginWithSecondFactor: { deviceToken: string | null, accessToken: string, accessTokenExpiresAt: string, refreshToken: string, refreshTokenExpiresAt: string, user: { id: string, username: string, email: string | null, roles: Array<string> } } };

export type EnrolSecondFactorMutationVariables = Exact<{
  challenge?: string | null | undefined;
}>;


export type EnrolSecondFactorMutation = { enrolSecondFactor: { uri: string, secret: string } };

export type ConfirmSecondFactorMutationVariables = Exact<{
  code: string;
  challenge?: string | null | undefined;
  deviceToken?: string | null | undefined;
}>;


export type ConfirmSecondFactorMutation = { confirmSecondFactor: { recoveryCodes: Array<string>, session: { deviceToken: string | null, accessToken: string, accessTokenExpiresAt: string, refreshToken: string, refreshTokenExpiresAt: string, user: { id: string, username: string, email: string | null, roles: Array<string> } } | null } };

export type DisableSecondFactorMutationVariables = Exact<{
  code: string;
}>;


export type DisableSecondFactorMutation = { disableSecondFactor: boolean };

export type SecondFactorStatusQueryVariables = Exact<{ [key: string]: never; }>;


export type SecondFactorStatusQuery = { me: { id: string, secondFactorEnabled: boolean | null } | null };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const UserFieldsFragmentDoc = new TypedDocumentString(`
    fragment UserFields on User {
  id
  username
  presence
}
    `, {"fragmentName":"UserFields"}) as unknown as TypedDocumentString<UserFieldsFragment, unknown>;
export const MessageFieldsFragmentDoc = new TypedDocumentString(`
    fragment MessageFields on Message {
  id
  body
  cursor
  createdAt
  author {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  username
  presence
}`, {"fragmentName":"MessageFields"}) as unknown as TypedDocumentString<MessageFieldsFragment, unknown>;
export const RoomFieldsFragmentDoc = new TypedDocumentString(`
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}
    `, {"fragmentName":"RoomFields"}) as unknown as TypedDocumentString<RoomFieldsFragment, unknown>;
export const AuthFieldsFragmentDoc = new TypedDocumentString(`
    fragment AuthFields on AuthPayload {
  accessToken
  accessTokenExpiresAt
  refreshToken
  refreshTokenExpiresAt
  user {
    id
    username
    email
    roles
  }
}
    `, {"fragmentName":"AuthFields"}) as unknown as TypedDocumentString<AuthFieldsFragment, unknown>;
export const LoginDocument = new TypedDocumentString(`
    mutation Login($input: LoginInput!) {
  login(input: $input) {
    ...AuthFields
    deviceToken
  }
}
    fragment AuthFields on AuthPayload {
  accessToken
  accessTokenExpiresAt
  refreshToken
  refreshTokenExpiresAt
  user {
    id
    username
    email
    roles
  }
}`) as unknown as TypedDocumentString<LoginMutation, LoginMutationVariables>;
export const RegisterDocument = new TypedDocumentString(`
    mutation Register($input: RegisterInput!) {
  register(input: $input) {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  username
  presence
}`) as unknown as TypedDocumentString<RegisterMutation, RegisterMutationVariables>;
export const RefreshDocument = new TypedDocumentString(`
    mutation Refresh($refreshToken: String) {
  refresh(refreshToken: $refreshToken) {
    ...AuthFields
  }
}
    fragment AuthFields on AuthPayload {
  accessToken
  accessTokenExpiresAt
  refreshToken
  refreshTokenExpiresAt
  user {
    id
    username
    email
    roles
  }
}`) as unknown as TypedDocumentString<RefreshMutation, RefreshMutationVariables>;
export const LogoutDocument = new TypedDocumentString(`
    mutation Logout {
  logout
}
    `) as unknown as TypedDocumentString<LogoutMutation, LogoutMutationVariables>;
export const MeDocument = new TypedDocumentString(`
    query Me {
  me {
    ...UserFields
    email
    roles
  }
}
    fragment UserFields on User {
  id
  username
  presence
}`) as unknown as TypedDocumentString<MeQuery, MeQueryVariables>;
export const SlotsDocument = new TypedDocumentString(`
    query Slots {
  connectionSlots {
    used
    max
    available
  }
}
    `) as unknown as TypedDocumentString<SlotsQuery, SlotsQueryVariables>;
export const SlotsChangedDocument = new TypedDocumentString(`
    subscription SlotsChanged {
  connectionSlots {
    used
    max
    available
  }
}
    `) as unknown as TypedDocumentString<SlotsChangedSubscription, SlotsChangedSubscriptionVariables>;
export const OnlineUsersDocument = new TypedDocumentString(`
    query OnlineUsers {
  onlineUsers {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  username
  presence
}`) as unknown as TypedDocumentString<OnlineUsersQuery, OnlineUsersQueryVariables>;
export const PresenceDocument = new TypedDocumentString(`
    subscription Presence {
  presence {
    status
    at
    user {
      ...UserFields
    }
  }
}
    fragment UserFields on User {
  id
  username
  presence
}`) as unknown as TypedDocumentString<PresenceSubscription, PresenceSubscriptionVariables>;
export const SetPresenceDocument = new TypedDocumentString(`
    mutation SetPresence($status: PresenceStatus!) {
  setPresence(status: $status)
}
    `) as unknown as TypedDocumentString<SetPresenceMutation, SetPresenceMutationVariables>;
export const RoomsDocument = new TypedDocumentString(`
    query Rooms($first: Int, $after: String) {
  rooms(first: $first, after: $after) {
    edges {
      cursor
      node {
        ...RoomFields
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<RoomsQuery, RoomsQueryVariables>;
export const RoomDocument = new TypedDocumentString(`
    query Room($id: ID!) {
  room(id: $id) {
    ...RoomFields
    members {
      ...UserFields
    }
    online {
      id
    }
  }
}
    fragment UserFields on User {
  id
  username
  presence
}
fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<RoomQuery, RoomQueryVariables>;
export const CreateRoomDocument = new TypedDocumentString(`
    mutation CreateRoom($input: CreateRoomInput!) {
  createRoom(input: $input) {
    ...RoomFields
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<CreateRoomMutation, CreateRoomMutationVariables>;
export const JoinRoomDocument = new TypedDocumentString(`
    mutation JoinRoom($roomId: ID!) {
  joinRoom(roomId: $roomId) {
    ...RoomFields
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<JoinRoomMutation, JoinRoomMutationVariables>;
export const LeaveRoomDocument = new TypedDocumentString(`
    mutation LeaveRoom($roomId: ID!) {
  leaveRoom(roomId: $roomId)
}
    `) as unknown as TypedDocumentString<LeaveRoomMutation, LeaveRoomMutationVariables>;
export const UpdateRoomDocument = new TypedDocumentString(`
    mutation UpdateRoom($id: ID!, $input: UpdateRoomInput!) {
  updateRoom(id: $id, input: $input) {
    ...RoomFields
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<UpdateRoomMutation, UpdateRoomMutationVariables>;
export const DeleteRoomDocument = new TypedDocumentString(`
    mutation DeleteRoom($id: ID!) {
  deleteRoom(id: $id)
}
    `) as unknown as TypedDocumentString<DeleteRoomMutation, DeleteRoomMutationVariables>;
export const InviteToRoomDocument = new TypedDocumentString(`
    mutation InviteToRoom($roomId: ID!, $userId: ID!) {
  inviteToRoom(roomId: $roomId, userId: $userId) {
    ...RoomFields
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<InviteToRoomMutation, InviteToRoomMutationVariables>;
export const RemoveFromRoomDocument = new TypedDocumentString(`
    mutation RemoveFromRoom($roomId: ID!, $userId: ID!) {
  removeFromRoom(roomId: $roomId, userId: $userId) {
    ...RoomFields
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<RemoveFromRoomMutation, RemoveFromRoomMutationVariables>;
export const MessagesDocument = new TypedDocumentString(`
    query Messages($roomId: ID!, $last: Int, $before: String) {
  messages(roomId: $roomId, last: $last, before: $before) {
    edges {
      cursor
      node {
        ...MessageFields
      }
    }
    pageInfo {
      hasPreviousPage
      startCursor
    }
  }
}
    fragment UserFields on User {
  id
  username
  presence
}
fragment MessageFields on Message {
  id
  body
  cursor
  createdAt
  author {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<MessagesQuery, MessagesQueryVariables>;
export const SendMessageDocument = new TypedDocumentString(`
    mutation SendMessage($roomId: ID!, $body: String!, $idempotencyKey: String) {
  sendMessage(roomId: $roomId, body: $body, idempotencyKey: $idempotencyKey) {
    ...MessageFields
  }
}
    fragment UserFields on User {
  id
  username
  presence
}
fragment MessageFields on Message {
  id
  body
  cursor
  createdAt
  author {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<SendMessageMutation, SendMessageMutationVariables>;
export const RoomMessagesCursorDocument = new TypedDocumentString(`
    query RoomMessagesCursor($roomId: ID!) {
  room(id: $roomId) {
    id
    messagesCursor
  }
}
    `) as unknown as TypedDocumentString<RoomMessagesCursorQuery, RoomMessagesCursorQueryVariables>;
export const RoomMessagesDocument = new TypedDocumentString(`
    subscription RoomMessages($roomId: ID!, $after: String) {
  roomMessages(roomId: $roomId, after: $after) {
    ...MessageFields
  }
}
    fragment UserFields on User {
  id
  username
  presence
}
fragment MessageFields on Message {
  id
  body
  cursor
  createdAt
  author {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<RoomMessagesSubscription, RoomMessagesSubscriptionVariables>;
export const RoomInvitationsDocument = new TypedDocumentString(`
    subscription RoomInvitations {
  roomInvitations {
    at
    room {
      ...RoomFields
    }
    invitedBy {
      id
      username
    }
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<RoomInvitationsSubscription, RoomInvitationsSubscriptionVariables>;
export const RoomListChangesDocument = new TypedDocumentString(`
    subscription RoomListChanges {
  roomListChanges {
    kind
    roomId
    room {
      ...RoomFields
    }
  }
}
    fragment RoomFields on Room {
  id
  name
  permission
  memberCount
  maxMembers
  owner {
    id
    username
  }
}`) as unknown as TypedDocumentString<RoomListChangesSubscription, RoomListChangesSubscriptionVariables>;
export const RoomPresenceDocument = new TypedDocumentString(`
    subscription RoomPresence($roomId: ID!) {
  roomPresence(roomId: $roomId) {
    kind
    status
    at
    user {
      ...UserFields
    }
  }
}
    fragment UserFields on User {
  id
  username
  presence
}`) as unknown as TypedDocumentString<RoomPresenceSubscription, RoomPresenceSubscriptionVariables>;
export const LoginWithSecondFactorDocument = new TypedDocumentString(`
    mutation LoginWithSecondFactor($input: SecondFactorLoginInput!) {
  loginWithSecondFactor(input: $input) {
    ...AuthFields
    deviceToken
  }
}
    fragment AuthFields on AuthPayload {
  accessToken
  accessTokenExpiresAt
  refreshToken
  refreshTokenExpiresAt
  user {
    id
    username
    email
    roles
  }
}`) as unknown as TypedDocumentString<LoginWithSecondFactorMutation, LoginWithSecondFactorMutationVariables>;
export const EnrolSecondFactorDocument = new TypedDocumentString(`
    mutation EnrolSecondFactor($challenge: String) {
  enrolSecondFactor(challenge: $challenge) {
    uri
    secret
  }
}
    `) as unknown as TypedDocumentString<EnrolSecondFactorMutation, EnrolSecondFactorMutationVariables>;
export const ConfirmSecondFactorDocument = new TypedDocumentString(`
    mutation ConfirmSecondFactor($code: String!, $challenge: String, $deviceToken: String) {
  confirmSecondFactor(
    code: $code
    challenge: $challenge
    deviceToken: $deviceToken
  ) {
    recoveryCodes
    session {
      ...AuthFields
      deviceToken
    }
  }
}
    fragment AuthFields on AuthPayload {
  accessToken
  accessTokenExpiresAt
  refreshToken
  refreshTokenExpiresAt
  user {
    id
    username
    email
    roles
  }
}`) as unknown as TypedDocumentString<ConfirmSecondFactorMutation, ConfirmSecondFactorMutationVariables>;
export const DisableSecondFactorDocument = new TypedDocumentString(`
    mutation DisableSecondFactor($code: String!) {
  disableSecondFactor(code: $code)
}
    `) as unknown as TypedDocumentString<DisableSecondFactorMutation, DisableSecondFactorMutationVariables>;
export const SecondFactorStatusDocument = new TypedDocumentString(`
    query SecondFactorStatus {
  me {
    id
    secondFactorEnabled
  }
}
    `) as unknown as TypedDocumentString<SecondFactorStatusQuery, SecondFactorStatusQueryVariables>;