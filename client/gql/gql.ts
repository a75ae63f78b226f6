/* eslint-disable */
import * as types from './graphql.ts';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment UserFields on User {\n    id\n    username\n    presence\n  }\n": typeof types.UserFieldsFragmentDoc,
    "\n  fragment MessageFields on Message {\n    id\n    body\n    cursor\n    createdAt\n    author {\n      ...UserFields\n    }\n  }\n": typeof types.MessageFieldsFragmentDoc,
    "\n  fragment RoomFields on Room {\n    id\n    name\n    permission\n    memberCount\n    maxMembers\n    owner {\n      id\n      username\n    }\n  }\n": typeof types.RoomFieldsFragmentDoc,
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      username\n      email\n      roles\n    }\n  }\n": typeof types.AuthFieldsFragmentDoc,
    "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n      deviceToken\n    }\n  }\n": typeof types.LoginDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      ...UserFields\n    }\n  }\n": typeof types.RegisterDocument,
    "\n  mutation Refresh($refreshToken: String) {\n    refresh(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n": typeof types.RefreshDocument,
    "\n  mutation Logout {\n    logout\n  }\n": typeof types.LogoutDocument,
    "\n  query Me {\n    me {\n      ...UserFields\n      email\n      roles\n    }\n  }\n": typeof types.MeDocument,
    "\n  query Slots {\n    connectionSlots {\n      used\n      max\n      available\n    }\n  }\n": typeof types.SlotsDocument,
    "\n  subscription SlotsChanged {\n    connectionSlots {\n      used\n      max\n      available\n    }\n  }\n": typeof types.SlotsChangedDocument,
    "\n  query OnlineUsers {\n    onlineUsers {\n      ...UserFields\n    }\n  }\n": typeof types.OnlineUsersDocument,
    "\n  subscription Presence {\n    presence {\n      status\n      at\n      user {\n        ...UserFields\n      }\n    }\n  }\n": typeof types.PresenceDocument,
    "\n  mutation SetPresence($status: PresenceStatus!) {\n    setPresence(status: $status)\n  }\n": typeof types.SetPresenceDocument,
    "\n  query Rooms($first: Int, $after: String) {\n    rooms(first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          ...RoomFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n": typeof types.RoomsDocument,
    "\n  query Room($id: ID!) {\n    room(id: $id) {\n      ...RoomFields\n      members {\n        ...UserFields\n      }\n      online {\n        id\n      }\n    }\n  }\n": typeof types.RoomDocument,
    "\n  mutation CreateRoom($input: CreateRoomInput!) {\n    createRoom(input: $input) {\n      ...RoomFields\n    }\n  }\n": typeof types.CreateRoomDocument,
    "\n  mutation JoinRoom($roomId: ID!) {\n    joinRoom(roomId: $roomId) {\n      ...RoomFields\n    }\n  }\n": typeof types.JoinRoomDocument,
    "\n  mutation LeaveRoom($roomId: ID!) {\n    leaveRoom(roomId: $roomId)\n  }\n": typeof types.LeaveRoomDocument,
    "\n  mutation UpdateRoom($id: ID!, $input: UpdateRoomInput!) {\n    updateRoom(id: $id, input: $input) {\n      ...RoomFields\n    }\n  }\n": typeof types.UpdateRoomDocument,
    "\n  mutation DeleteRoom($id: ID!) {\n    deleteRoom(id: $id)\n  }\n": typeof types.DeleteRoomDocument,
    "\n  mutation InviteToRoom($roomId: ID!, $userId: ID!) {\n    inviteToRoom(roomId: $roomId, userId: $userId) {\n      ...RoomFields\n    }\n  }\n": typeof types.InviteToRoomDocument,
    "\n  mutation RemoveFromRoom($roomId: ID!, $userId: ID!) {\n    removeFromRoom(roomId: $roomId, userId: $userId) {\n      ...RoomFields\n    }\n  }\n": typeof types.RemoveFromRoomDocument,
    "\n  query Messages($roomId: ID!, $last: Int, $before: String) {\n    messages(roomId: $roomId, last: $last, before: $before) {\n      edges {\n        cursor\n        node {\n          ...MessageFields\n        }\n      }\n      pageInfo {\n        hasPreviousPage\n        startCursor\n      }\n    }\n  }\n": typeof types.MessagesDocument,
    "\n  mutation SendMessage($roomId: ID!, $body: String!, $idempotencyKey: String) {\n    sendMessage(roomId: $roomId, body: $body, idempotencyKey: $idempotencyKey) {\n      ...MessageFields\n    }\n  }\n": typeof types.SendMessageDocument,
    "\n  query RoomMessagesCursor($roomId: ID!) {\n    room(id: $roomId) {\n      id\n      messagesCursor\n    }\n  }\n": typeof types.RoomMessagesCursorDocument,
    "\n  subscription RoomMessages($roomId: ID!, $after: String) {\n    roomMessages(roomId: $roomId, after: $after) {\n      ...MessageFields\n    }\n  }\n": typeof types.RoomMessagesDocument,
    "\n  subscription RoomInvitations {\n    roomInvitations {\n      at\n      room {\n        ...RoomFields\n      }\n      invitedBy {\n        id\n        username\n      }\n    }\n  }\n": typeof types.RoomInvitationsDocument,
    "\n  subscription RoomListChanges {\n    roomListChanges {\n      kind\n      roomId\n      room {\n        ...RoomFields\n      }\n    }\n  }\n": typeof types.RoomListChangesDocument,
    "\n  subscription RoomPresence($roomId: ID!) {\n    roomPresence(roomId: $roomId) {\n      kind\n      status\n      at\n      user {\n        ...UserFields\n      }\n    }\n  }\n": typeof types.RoomPresenceDocument,
    "\n  mutation LoginWithSecondFactor($input: SecondFactorLoginInput!) {\n    loginWithSecondFactor(input: $input) {\n      ...AuthFields\n      deviceToken\n    }\n  }\n": typeof types.LoginWithSecondFactorDocument,
    "\n  mutation EnrolSecondFactor($challenge: String) {\n    enrolSecondFactor(challenge: $challenge) {\n      uri\n      secret\n    }\n  }\n": typeof types.EnrolSecondFactorDocument,
    "\n  mutation ConfirmSecondFactor($code: String!, $challenge: String, $deviceToken: String) {\n    confirmSecondFactor(code: $code, challenge: $challenge, deviceToken: $deviceToken) {\n      recoveryCodes\n      session {\n        ...AuthFields\n        deviceToken\n      }\n    }\n  }\n": typeof types.ConfirmSecondFactorDocument,
    "\n  mutation DisableSecondFactor($code: String!) {\n    disableSecondFactor(code: $code)\n  }\n": typeof types.DisableSecondFactorDocument,
    "\n  query SecondFactorStatus {\n    me {\n      id\n      secondFactorEnabled\n    }\n  }\n": typeof types.SecondFactorStatusDocument,
};
const documents: Documents = {
    "\n  fragment UserFields on User {\n    id\n    username\n    presence\n  }\n": types.UserFieldsFragmentDoc,
    "\n  fragment MessageFields on Message {\n    id\n    body\n    cursor\n    createdAt\n    author {\n      ...UserFields\n    }\n  }\n": types.MessageFieldsFragmentDoc,
    "\n  fragment RoomFields on Room {\n    id\n    name\n    permission\n    memberCount\n    maxMembers\n    owner {\n      id\n      username\n    }\n  }\n": types.RoomFieldsFragmentDoc,
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      username\n      email\n      roles\n    }\n  }\n": types.AuthFieldsFragmentDoc,
    "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n      deviceToken\n    }\n  }\n": types.LoginDocument,
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
    "\n  mutation LoginWithSecondFactor($input: SecondFactorLoginInput!) {\n    loginWithSecondFactor(input: $input) {\n      ...AuthFields\n      deviceToken\n    }\n  }\n": types.LoginWithSecondFactorDocument,
    "\n  mutation EnrolSecondFactor($challenge: String) {\n    enrolSecondFactor(challenge: $challenge) {\n      uri\n      secret\n    }\n  }\n": types.EnrolSecondFactorDocument,
    "\n  mutation ConfirmSecondFactor($code: String!, $challenge: String, $deviceToken: String) {\n    confirmSecondFactor(code: $code, challenge: $challenge, deviceToken: $deviceToken) {\n      recoveryCodes\n      session {\n        ...AuthFields\n        deviceToken\n      }\n    }\n  }\n": types.ConfirmSecondFactorDocument,
    "\n  mutation DisableSecondFactor($code: String!) {\n    disableSecondFactor(code: $code)\n  }\n": types.DisableSecondFactorDocument,
    "\n  query SecondFactorStatus {\n    me {\n      id\n      secondFactorEnabled\n    }\n  }\n": types.SecondFactorStatusDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment UserFields on User {\n    id\n    username\n    presence\n  }\n"): typeof import('./graphql.ts').UserFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment MessageFields on Message {\n    id\n    body\n    cursor\n    createdAt\n    author {\n      ...UserFields\n    }\n  }\n"): typeof import('./graphql.ts').MessageFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment RoomFields on Room {\n    id\n    name\n    permission\n    memberCount\n    maxMembers\n    owner {\n      id\n      username\n    }\n  }\n"): typeof import('./graphql.ts').RoomFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    accessTokenExpiresAt\n    refreshToken\n    refreshTokenExpiresAt\n    user {\n      id\n      username\n      email\n      roles\n    }\n  }\n"): typeof import('./graphql.ts').AuthFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n      deviceToken\n    }\n  }\n"): typeof import('./graphql.ts').LoginDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      ...UserFields\n    }\n  }\n"): typeof import('./graphql.ts').RegisterDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Refresh($refreshToken: String) {\n    refresh(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n"): typeof import('./graphql.ts').RefreshDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout {\n    logout\n  }\n"): typeof import('./graphql.ts').LogoutDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me {\n    me {\n      ...UserFields\n      email\n      roles\n    }\n  }\n"): typeof import('./graphql.ts').MeDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Slots {\n    connectionSlots {\n      used\n      max\n      available\n    }\n  }\n"): typeof import('./graphql.ts').SlotsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription SlotsChanged {\n    connectionSlots {\n      used\n      max\n      available\n    }\n  }\n"): typeof import('./graphql.ts').SlotsChangedDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OnlineUsers {\n    onlineUsers {\n      ...UserFields\n    }\n  }\n"): typeof import('./graphql.ts').OnlineUsersDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription Presence {\n    presence {\n      status\n      at\n      user {\n        ...UserFields\n      }\n    }\n  }\n"): typeof import('./graphql.ts').PresenceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SetPresence($status: PresenceStatus!) {\n    setPresence(status: $status)\n  }\n"): typeof import('./graphql.ts').SetPresenceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Rooms($first: Int, $after: String) {\n    rooms(first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          ...RoomFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n"): typeof import('./graphql.ts').RoomsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Room($id: ID!) {\n    room(id: $id) {\n      ...RoomFields\n      members {\n        ...UserFields\n      }\n      online {\n        id\n      }\n    }\n  }\n"): typeof import('./graphql.ts').RoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateRoom($input: CreateRoomInput!) {\n    createRoom(input: $input) {\n      ...RoomFields\n    }\n  }\n"): typeof import('./graphql.ts').CreateRoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation JoinRoom($roomId: ID!) {\n    joinRoom(roomId: $roomId) {\n      ...RoomFields\n    }\n  }\n"): typeof import('./graphql.ts').JoinRoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LeaveRoom($roomId: ID!) {\n    leaveRoom(roomId: $roomId)\n  }\n"): typeof import('./graphql.ts').LeaveRoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateRoom($id: ID!, $input: UpdateRoomInput!) {\n    updateRoom(id: $id, input: $input) {\n      ...RoomFields\n    }\n  }\n"): typeof import('./graphql.ts').UpdateRoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteRoom($id: ID!) {\n    deleteRoom(id: $id)\n  }\n"): typeof import('./graphql.ts').DeleteRoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation InviteToRoom($roomId: ID!, $userId: ID!) {\n    inviteToRoom(roomId: $roomId, userId: $userId) {\n      ...RoomFields\n    }\n  }\n"): typeof import('./graphql.ts').InviteToRoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RemoveFromRoom($roomId: ID!, $userId: ID!) {\n    removeFromRoom(roomId: $roomId, userId: $userId) {\n      ...RoomFields\n    }\n  }\n"): typeof import('./graphql.ts').RemoveFromRoomDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Messages($roomId: ID!, $last: Int, $before: String) {\n    messages(roomId: $roomId, last: $last, before: $before) {\n      edges {\n        cursor\n        node {\n          ...MessageFields\n        }\n      }\n      pageInfo {\n        hasPreviousPage\n        startCursor\n      }\n    }\n  }\n"): typeof import('./graphql.ts').MessagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SendMessage($roomId: ID!, $body: String!, $idempotencyKey: String) {\n    sendMessage(roomId: $roomId, body: $body, idempotencyKey: $idempotencyKey) {\n      ...MessageFields\n    }\n  }\n"): typeof import('./graphql.ts').SendMessageDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RoomMessagesCursor($roomId: ID!) {\n    room(id: $roomId) {\n      id\n      messagesCursor\n    }\n  }\n"): typeof import('./graphql.ts').RoomMessagesCursorDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RoomMessages($roomId: ID!, $after: String) {\n    roomMessages(roomId: $roomId, after: $after) {\n      ...MessageFields\n    }\n  }\n"): typeof import('./graphql.ts').RoomMessagesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RoomInvitations {\n    roomInvitations {\n      at\n      room {\n        ...RoomFields\n      }\n      invitedBy {\n        id\n        username\n      }\n    }\n  }\n"): typeof import('./graphql.ts').RoomInvitationsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RoomListChanges {\n    roomListChanges {\n      kind\n      roomId\n      room {\n        ...RoomFields\n      }\n    }\n  }\n"): typeof import('./graphql.ts').RoomListChangesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RoomPresence($roomId: ID!) {\n    roomPresence(roomId: $roomId) {\n      kind\n      status\n      at\n      user {\n        ...UserFields\n      }\n    }\n  }\n"): typeof import('./graphql.ts').RoomPresenceDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LoginWithSecondFactor($input: SecondFactorLoginInput!) {\n    loginWithSecondFactor(input: $input) {\n      ...AuthFields\n      deviceToken\n    }\n  }\n"): typeof import('./graphql.ts').LoginWithSecondFactorDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation EnrolSecondFactor($challenge: String) {\n    enrolSecondFactor(challenge: $challenge) {\n      uri\n      secret\n    }\n  }\n"): typeof import('./graphql.ts').EnrolSecondFactorDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ConfirmSecondFactor($code: String!, $challenge: String, $deviceToken: String) {\n    confirmSecondFactor(code: $code, challenge: $challenge, deviceToken: $deviceToken) {\n      recoveryCodes\n      session {\n        ...AuthFields\n        deviceToken\n      }\n    }\n  }\n"): typeof import('./graphql.ts').ConfirmSecondFactorDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DisableSecondFactor($code: String!) {\n    disableSecondFactor(code: $code)\n  }\n"): typeof import('./graphql.ts').DisableSecondFactorDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SecondFactorStatus {\n    me {\n      id\n      secondFactorEnabled\n    }\n  }\n"): typeof import('./graphql.ts').SecondFactorStatusDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
