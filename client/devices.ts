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
