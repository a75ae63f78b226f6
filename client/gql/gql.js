/* eslint-disable */
import * as types from './graphql.js';
const documents = {
    "\n  fragment UserFields on User {\n    id\n    username\n    presence\n  }\n": types.UserFieldsFragmentDoc,
    "\n  fragment MessageFields on Message {\n    id\n    body\n    cursor\n    createdAt\n    author {\n      ...UserFields\n    }\n  }\n": types.MessageFieldsFragmentDoc,
    "\n  fragment RoomFields on Room {\n    id\n    name\n    permission\n    memberCount\n    maxMembers\n    owner {\n      id\n      username\n    }\n  }\n": types.RoomFieldsFragmentDoc,
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      username\n      email\n      roles\n    }\n  }\n": types.AuthFieldsFragmentDoc,
    "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n    }\n  }\n": types.LoginDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      ...UserFields\n    }\n  }\n": types.RegisterDocument,
    "\n  mutation Refresh($refreshToken: String) {\n    refresh(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n": types.RefreshDocument,
    "\n  mutation Logout {\n    logout\n  }\n": types.LogoutDocument,
    "\n  query Me {\n    me {\n      ...UserFields\n      email\n      roles\n    }\n  }\n": types.MeDocument,
    "\n  query Slots {\n    connectionSlots {\n      used\n      max\n      available\n    }\n  }\n": types.SlotsDocument,
    "\n  subscription SlotsChanged {\n    connectionSlots {\n      used\n      max\n      available\n    }\n  }\n": types.SlotsChangedDocument,
    "\n  query OnlineUsers {\n    onlineUsers {\n      ...UserFields\n    }\n  }\n": types.OnlineUsersDocument,
    "\n  subscription Presence {\n    presence {\n      status\n      at\n      user {\n        ...UserFields\n      }\n    }\n  }\n": types.PresenceDocument,
    "\n  mutation SetPresence($status: PresenceStatus!) {\n    setPresence(status: $status)\n  }\n": types.SetPresenceDocument,
    "\n  query Rooms($first: Int, $after: String) {\n    rooms(first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          ...RoomFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": types.RoomsDocument,
    "\n  query Room($id: ID!) {\n    room(id: $id) {\n      ...RoomFields\n      members {\n        ...UserFields\n      }\n      online {\n        id\n      }\n    }\n  }\n": types.RoomDocument,
    "\n  mutation CreateRoom($input: CreateRoomInput!) {\n    createRoom(input: $input) {\n      ...RoomFields\n    }\n  }\n": types.CreateRoomDocument,
    "\n  mutation JoinRoom($roomId: ID!) {\n    joinRoom(roomId: $roomId) {\n      ...RoomFields\n    }\n  }\n": types.JoinRoomDocument,
    "\n  mutation LeaveRoom($roomId: ID!) {\n    leaveRoom(roomId: $roomId)\n  }\n": types.LeaveRoomDocument,
    "\n  mutation UpdateRoom($id: ID!, $input: UpdateRoomInput!) {\n    updateRoom(id: $id, input: $input) {\n      ...RoomFields\n    }\n  }\n": types.UpdateRoomDocument,
    "\n  mutation DeleteRoom($id: ID!) {\n    deleteRoom(id: $id)\n  }\n": types.DeleteRoomDocument,
    "\n  mutation InviteToRoom($roomId: ID!, $userId: ID!) {\n    inviteToRoom(roomId: $roomId, userId: $userId) {\n      ...RoomFields\n    }\n  }\n": types.InviteToRoomDocument,
    "\n  mutation RemoveFromRoom($roomId: ID!, $userId: ID!) {\n    removeFromRoom(roomId: $roomId, userId: $userId) {\n      ...RoomFields\n    }\n  }\n": types.RemoveFromRoomDocument,
    "\n  query Messages($roomId: ID!, $last: Int, $before: String) {\n    messages(roomId: $roomId, last: $last, before: $before) {\n      edges {\n        cursor\n        node {\n          ...MessageFields\n        }\n      }\n      pageInfo {\n        hasPreviousPage\n        startCursor\n      }\n    }\n  }\n": types.MessagesDocument,
    "\n  mutation SendMessage($roomId: ID!, $body: String!, $idempotencyKey: String) {\n    sendMessage(roomId: $roomId, body: $body, idempotencyKey: $idempotencyKey) {\n      ...MessageFields\n    }\n  }\n": types.SendMessageDocument,
    "\n  query RoomMessagesCursor($roomId: ID!) {\n    room(id: $roomId) {\n      id\n      messagesCursor\n    }\n  }\n": types.RoomMessagesCursorDocument,
    "\n  subscription RoomMessages($roomId: ID!, $after: String) {\n    roomMessages(roomId: $roomId, after: $after) {\n      ...MessageFields\n    }\n  }\n": types.RoomMessagesDocument,
    "\n  subscription RoomInvitations {\n    roomInvitations {\n      at\n      room {\n        ...RoomFields\n      }\n      invitedBy {\n        id\n        username\n      }\n    }\n  }\n": types.RoomInvitationsDocument,
    "\n  subscription RoomListChanges {\n    roomListChanges {\n      kind\n      roomId\n      room {\n        ...RoomFields\n      }\n    }\n  }\n": types.RoomListChangesDocument,
    "\n  subscription RoomPresence($roomId: ID!) {\n    roomPresence(roomId: $roomId) {\n      kind\n      status\n      at\n      user {\n        ...UserFields\n      }\n    }\n  }\n": types.RoomPresenceDocument,
};
export function graphql(source) {
    return documents[source] ?? {};
}
