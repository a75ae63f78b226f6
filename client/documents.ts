/**
 * Every operation the SDK and the web page send. GraphQL Code Generator reads
 * these `graphql()` calls and types them (client/gql/); `npm run codegen`
 * after changing one.
 */
import { graphql } from './gql/index.ts';

export const UserFields = graphql(`
  fragment UserFields on User {
    id
    username
    presence
  }
`);

export const MessageFields = graphql(`
  fragment MessageFields on Message {
    id
    body
    cursor
    createdAt
    author {
      ...UserFields
    }
  }
`);

export const RoomFields = graphql(`
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
`);

export const AuthFields = graphql(`
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
`);

export const LoginDocument = graphql(`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      ...AuthFields
      deviceToken
    }
  }
`);

export const RegisterDocument = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      ...UserFields
    }
  }
`);

export const RefreshDocument = graphql(`
  mutation Refresh($refreshToken: String) {
    refresh(refreshToken: $refreshToken) {
      ...AuthFields
    }
  }
`);

export const LogoutDocument = graphql(`
  mutation Logout {
    logout
  }
`);

export const MeDocument = graphql(`
  query Me {
    me {
      ...UserFields
      email
      roles
    }
  }
`);

export const SlotsDocument = graphql(`
  query Slots {
    connectionSlots {
      used
      max
      available
    }
  }
`);

export const SlotsChangedDocument = graphql(`
  subscription SlotsChanged {
    connectionSlots {
      used
      max
      available
    }
  }
`);

export const OnlineUsersDocument = graphql(`
  query OnlineUsers {
    onlineUsers {
      ...UserFields
    }
  }
`);

export const PresenceDocument = graphql(`
  subscription Presence {
    presence {
      status
      at
      user {
        ...UserFields
      }
    }
  }
`);

export const SetPresenceDocument = graphql(`
  mutation SetPresence($status: PresenceStatus!) {
    setPresence(status: $status)
  }
`);

export const RoomsDocument = graphql(`
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
`);

export const RoomDocument = graphql(`
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
`);

export const CreateRoomDocument = graphql(`
  mutation CreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      ...RoomFields
    }
  }
`);

export const JoinRoomDocument = graphql(`
  mutation JoinRoom($roomId: ID!) {
    joinRoom(roomId: $roomId) {
      ...RoomFields
    }
  }
`);

export const LeaveRoomDocument = graphql(`
  mutation LeaveRoom($roomId: ID!) {
    leaveRoom(roomId: $roomId)
  }
`);

export const UpdateRoomDocument = graphql(`
  mutation UpdateRoom($id: ID!, $input: UpdateRoomInput!) {
    updateRoom(id: $id, input: $input) {
      ...RoomFields
    }
  }
`);

export const DeleteRoomDocument = graphql(`
  mutation DeleteRoom($id: ID!) {
    deleteRoom(id: $id)
  }
`);

export const InviteToRoomDocument = graphql(`
  mutation InviteToRoom($roomId: ID!, $userId: ID!) {
    inviteToRoom(roomId: $roomId, userId: $userId) {
      ...RoomFields
    }
  }
`);

export const RemoveFromRoomDocument = graphql(`
  mutation RemoveFromRoom($roomId: ID!, $userId: ID!) {
    removeFromRoom(roomId: $roomId, userId: $userId) {
      ...RoomFields
    }
  }
`);

export const MessagesDocument = graphql(`
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
`);

export const SendMessageDocument = graphql(`
  mutation SendMessage($roomId: ID!, $body: String!, $idempotencyKey: String) {
    sendMessage(roomId: $roomId, body: $body, idempotencyKey: $idempotencyKey) {
      ...MessageFields
    }
  }
`);

export const RoomMessagesCursorDocument = graphql(`
  query RoomMessagesCursor($roomId: ID!) {
    room(id: $roomId) {
      id
      messagesCursor
    }
  }
`);

export const RoomMessagesDocument = graphql(`
  subscription RoomMessages($roomId: ID!, $after: String) {
    roomMessages(roomId: $roomId, after: $after) {
      ...MessageFields
    }
  }
`);

export const RoomInvitationsDocument = graphql(`
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
`);

export const RoomListChangesDocument = graphql(`
  subscription RoomListChanges {
    roomListChanges {
      kind
      roomId
      room {
        ...RoomFields
      }
    }
  }
`);

export const RoomPresenceDocument = graphql(`
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
`);

// ---- Two-factor sign-in (src/auth/second-factor.ts) ----

export const LoginWithSecondFactorDocument = graphql(`
  mutation LoginWithSecondFactor($input: SecondFactorLoginInput!) {
    loginWithSecondFactor(input: $input) {
      ...AuthFields
      deviceToken
    }
  }
`);

export const EnrolSecondFactorDocument = graphql(`
  mutation EnrolSecondFactor($challenge: String) {
    enrolSecondFactor(challenge: $challenge) {
      uri
      secret
    }
  }
`);

export const ConfirmSecondFactorDocument = graphql(`
  mutation ConfirmSecondFactor($code: String!, $challenge: String, $deviceToken: String) {
    confirmSecondFactor(code: $code, challenge: $challenge, deviceToken: $deviceToken) {
      recoveryCodes
      session {
        ...AuthFields
        deviceToken
      }
    }
  }
`);

export const DisableSecondFactorDocument = graphql(`
  mutation DisableSecondFactor($code: String!) {
    disableSecondFactor(code: $code)
  }
`);

export const SecondFactorStatusDocument = graphql(`
  query SecondFactorStatus {
    me {
      id
      secondFactorEnabled
    }
  }
`);
