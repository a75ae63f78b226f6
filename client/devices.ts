/** Where the SDK keeps the device tokens logins hand out (docs/security.md, failed logins). */

/** Device tokens by account (the username and the email, lower-cased, both name it). */
export interface DeviceTokenStore {
  get(account: string): string | null | undefined;
  set(account: string, token: string): void;
}

/** The store the SDK uses when none is given: forgotten when the process ends. */
export function memoryDeviceTokenStore(): DeviceTokenStore {
  const tokens = new Map<string, string>();
  return { get: (account) => tokens.get(account), set: (account, token) => void tokens.set(account, token) };
}

/** The device token kept for `account`; null when none is, or when the account is not known (a second step whose login this client did not start). */
export function deviceTokenFor(store: DeviceTokenStore, account: string | null): string | null {
  return account ? (store.get(account) ?? null) : null;
}

/**
 * Keeps the device token a login handed out under every name of its account (the name it was asked with,
 * the username and the email, lower-cased), so that the next login presents it whichever name it uses.
 */
export function keepDeviceToken(store: DeviceTokenStore, account: string | null, auth: { deviceToken?: string | null; user: { username: string; email?: string | null } }): void {
  if (!auth.deviceToken) return;
  for (const name of [account, auth.user.username.toLowerCase(), auth.user.email?.toLowerCase()]) if (name) store.set(name, auth.deviceToken);
}
