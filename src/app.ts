/**
 * The application: the adapters plus the domain services built on them.
 * One per process; resolvers reach it as `ctx.app`.
 */
import type { Config } from './core/config.ts';
import { createInfra, type Infra } from './adapters/infra.ts';
import type { Logger } from './core/logger.ts';
import { createTokenSigner, loadSigningKey, type SigningKey, type TokenSigner } from './auth/tokens.ts';
import { createDeviceTokens } from './auth/devices.ts';
import { createAnomalyWatch } from './auth/anomalies.ts';
import { databaseKeyStore } from './auth/shared-key.ts';
import { createRevocations, type Revocations } from './auth/revocation.ts';
import { createAccounts, type Accounts } from './auth/accounts.ts';
import { createSecondFactor, type SecondFactor } from './auth/second-factor.ts';
import { createOidcSignIn, type OidcSignIn } from './auth/oidc.ts';
import type { StartupSecrets } from './auth/startup-secrets.ts';
import { startSessionPurge } from './auth/session-purge.ts';
import { runAtStart, type StartupTask } from './operations/startup.ts';
import { createSlots, renewIntervalMs, type Slots } from './slots/service.ts';
import { createRecovery } from './slots/recovery.ts';
import { createSubscriptionLimits, type SubscriptionLimits } from './slots/subscriptions.ts';
import { createPresence, type Presence } from './presence/service.ts';
import { createRoomFeed, type RoomFeed } from './rooms/feed.ts';
import { createRooms, type Rooms } from './rooms/service.ts';
import { createInvitationFeed } from './rooms/invitations.ts';
import { createRoomListFeed } from './rooms/room-list.ts';
import { createRoomPresence, type RoomPresence } from './rooms/room-presence.ts';
import { createMessages, type Messages } from './messages/service.ts';
import { createServerLog, type ServerLog } from './operations/server-log.ts';
import { createAllowedOrigins, type AllowedOrigins } from './operations/origins.ts';

export interface App extends Infra {
  tokens: TokenSigner;
  revocations: Revocations;
  accounts: Accounts;
  /** Two-factor sign-in: enrolment, confirmation, disabling (src/auth/second-factor.ts). */
  secondFactor: SecondFactor;
  /** Sign-in through an OpenID Connect provider; null when OIDC_ISSUER is unset. */
  oidc: OidcSignIn | null;
  slots: Slots;
  /** MAX_SUBSCRIPTIONS_PER_SOCKET and MAX_SUBSCRIPTIONS_PER_USER, for graphql-ws and SSE alike. */
  subscriptionLimits: SubscriptionLimits;
  presence: Presence;
  feed: RoomFeed;
  rooms: Rooms;
  roomPresence: RoomPresence;
  messages: Messages;
  serverLog: ServerLog;
  /** The origins granted CORS and WebSocket upgrades, as they are now. */
  origins: AllowedOrigins;
}

/** Builds the app on the keys and secrets src/main.ts read first (auth/startup-secrets.ts). */
export async function createApp(config: Config, logger: Logger, { configuredKey, oidcClientSecret }: StartupSecrets): Promise<App> {
  const infra = await createInfra(config, logger);
  let signingKey: SigningKey;
  try {
    signingKey = configuredKey ?? (await loadSigningKey(config, databaseKeyStore(infra.db)));
  } catch (error) {
    await infra.close();
    throw error;
  }
  const tokens = createTokenSigner(signingKey, config.ACCESS_TOKEN_TTL);
  const devices = createDeviceTokens(signingKey, config.DEVICE_TOKEN_TTL);
  const revocations = await createRevocations(infra);
  const feed = createRoomFeed(infra.bus, infra.outbox);
  const rooms = createRooms({ ...infra, feed, invitationFeed: createInvitationFeed(infra.bus, infra.outbox), listFeed: createRoomListFeed(infra.bus, infra.outbox, infra.config.ROOM_LIST_COUNT_INTERVAL * 1000) });
  const anomalies = createAnomalyWatch(infra);
  const secondFactor = createSecondFactor({ ...infra, key: signingKey, anomalies });
  const accounts = createAccounts({ ...infra, anomalies, tokens, devices, revocations, rooms, secondFactor });
  const oidc = await createOidcSignIn({ ...infra, accounts, clientSecret: oidcClientSecret });
  // A renewal puts an instance's seats back even when it never noticed the loss; a second more for its round trip and a late timer.
  const recovery = await createRecovery(infra, renewIntervalMs(infra.config) + 1000);
  const slots = await createSlots(infra, recovery);
  const presence = await createPresence(infra, slots, recovery);
  // After the seats and presence (slots/recovery.ts runs them in the order added).
  const stopPuttingBack = recovery.onLoss(() => revocations.putBack());
  const roomPresence = createRoomPresence({ ...infra, feed, rooms, presence });
  const messages = createMessages({ ...infra, feed, rooms });
  const serverLog = await createServerLog(infra);
  const origins = await createAllowedOrigins(infra);
  const sessionPurge = startSessionPurge(infra);
  const restoreRevocations = () => runAtStart(logger, 'restore revoked sessions', () => accounts.restoreRevocations());
  const startup = [await restoreRevocations(), await runAtStart(logger, 'bootstrap admin', () => accounts.bootstrapAdmin())];
  // A session ended while Redis was away may be missing from shared state and its bus message given up: the database is read again whenever the bus is back.
  let restoredOnResume: StartupTask | undefined;
  const stopRestoringOnResume = infra.bus.onResume(() => {
    restoredOnResume?.cancel();
    void restoreRevocations().then(
      (task) => (restoredOnResume = task),
      (error: unknown) => logger.error({ err: error }, 'could not restore revoked sessions'),
    );
  });
  return {
    ...infra,
    tokens,
    revocations,
    accounts,
    secondFactor,
    oidc,
    slots,
    subscriptionLimits: createSubscriptionLimits(infra),
    presence,
    feed,
    rooms,
    roomPresence,
    messages,
    serverLog,
    origins,
    async close() {
      stopRestoringOnResume();
      stopPuttingBack();
      recovery.stop();
      for (const task of [...startup, restoredOnResume]) task?.cancel();
      serverLog.stop();
      origins.stop();
      await slots.stop();
      presence.stop();
      sessionPurge.stop();
      revocations.stop();
      await infra.close();
    },
  };
}
