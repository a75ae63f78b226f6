/** Room operations over real HTTP, for the rooms and messages suites. */
import { gql, type TestServer } from '../helpers/server.ts';

export const CREATE_ROOM = 'mutation($input: CreateRoomInput!) { createRoom(input: $input) { id name permission maxMembers memberCount allowedRoles owner { id } } }';
export const JOIN = 'mutation($id: ID!) { joinRoom(roomId: $id) { id memberCount } }';
export const SEND = 'mutation($id: ID!, $body: String!, $key: String) { sendMessage(roomId: $id, body: $body, idempotencyKey: $key) { id body cursor author { id username } room { id } } }';
export const ROOM_MESSAGES = 'subscription($id: ID!, $after: String) { roomMessages(roomId: $id, after: $after) { id body cursor author { username } } }';

export async function createRoom(server: TestServer, token: string, input: Record<string, unknown> = {}) {
  const response = await gql(server, CREATE_ROOM, { input: { name: 'room', ...input } }, { token });
  if (!response.data) throw new Error(`createRoom failed: ${JSON.stringify(response.errors)}`);
  return response.data.createRoom as { id: string; name: string; permission: string; maxMembers: number; memberCount: number };
}
