export class TypedDocumentString extends String {
    __apiType;
    value;
    __meta__;
    constructor(value, __meta__) {
        super(value);
        this.value = value;
        this.__meta__ = __meta__;
    }
    toString() {
        return this.value;
    }
}
export const UserFieldsFragmentDoc = new TypedDocumentString(`
    fragment UserFields on User {
  id
  username
  presence
}
    `, { "fragmentName": "UserFields" });
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
}`, { "fragmentName": "MessageFields" });
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
    `, { "fragmentName": "RoomFields" });
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
    `, { "fragmentName": "AuthFields" });
export const LoginDocument = new TypedDocumentString(`
    mutation Login($input: LoginInput!) {
  login(input: $input) {
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
}`);
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
}`);
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
}`);
export const LogoutDocument = new TypedDocumentString(`
    mutation Logout {
  logout
}
    `);
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
}`);
export const SlotsDocument = new TypedDocumentString(`
    query Slots {
  connectionSlots {
    used
    max
    available
  }
}
    `);
export const SlotsChangedDocument = new TypedDocumentString(`
    subscription SlotsChanged {
  connectionSlots {
    used
    max
    available
  }
}
    `);
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
}`);
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
}`);
export const SetPresenceDocument = new TypedDocumentString(`
    mutation SetPresence($status: PresenceStatus!) {
  setPresence(status: $status)
}
    `);
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
}`);
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
}`);
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
}`);
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
}`);
export const LeaveRoomDocument = new TypedDocumentString(`
    mutation LeaveRoom($roomId: ID!) {
  leaveRoom(roomId: $roomId)
}
    `);
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
}`);
export const DeleteRoomDocument = new TypedDocumentString(`
    mutation DeleteRoom($id: ID!) {
  deleteRoom(id: $id)
}
    `);
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
}`);
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
}`);
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
}`);
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
}`);
export const RoomMessagesCursorDocument = new TypedDocumentString(`
    query RoomMessagesCursor($roomId: ID!) {
  room(id: $roomId) {
    id
    messagesCursor
  }
}
    `);
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
}`);
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
}`);
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
}`);
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
}`);
