/**
 * The web page's DPoP key pairs, kept in IndexedDB so that a bound session
 * survives a reload and the navigation of a sign-in through the identity
 * provider. IndexedDB stores a CryptoKey as it is (structured clone): the
 * private key stays non-extractable, and its material is never readable by
 * the page, nor in any storage a script could read it from. A pair is filed
 * under its RFC 7638 thumbprint, the `cnf.jkt` of the tokens it binds, with
 * the time after which it can bind nothing (the session's refresh token
 * expiry, or the end of a started sign-in): a tab closed without logout
 * leaves its pair behind, and the next page load deletes it once past that.
 */

const DATABASE = 'switchboard';
const STORE = 'dpop-keys';

interface StoredKey {
  jkt: string;
  keyPair: CryptoKeyPair;
  /** Milliseconds since the epoch: the pair is deleted after this. */
  until: number;
}

let opened: Promise<IDBDatabase> | null = null;

function database(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'jkt' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB cannot be opened'));
  });
  opened.catch(() => (opened = null));
  return opened;
}

/** Runs one request on the store and resolves with its result when its transaction is done. */
async function run<T>(mode: IDBTransactionMode, request: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const transaction = (await database()).transaction(STORE, mode);
  const pending = request(transaction.objectStore(STORE));
  return new Promise<T>((resolve, reject) => {
    transaction.oncomplete = () => resolve(pending.result);
    transaction.onerror = transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
  });
}

/** The pair filed under `jkt`, or null (none, or no IndexedDB). */
export async function loadKey(jkt: string): Promise<CryptoKeyPair | null> {
  try {
    return ((await run('readonly', (store) => store.get(jkt))) as StoredKey | undefined)?.keyPair ?? null;
  } catch {
    return null;
  }
}

/** Files a pair under its thumbprint until `until`; false when it could not be kept (no IndexedDB: private windows of some browsers). */
export async function keepKey(jkt: string, keyPair: CryptoKeyPair, until: number): Promise<boolean> {
  try {
    await run('readwrite', (store) => store.put({ jkt, keyPair, until } satisfies StoredKey));
    return true;
  } catch {
    return false;
  }
}

export async function deleteKey(jkt: string): Promise<void> {
  await run('readwrite', (store) => store.delete(jkt)).catch(() => undefined);
}

/** Deletes the pairs past their time. */
export async function deleteExpiredKeys(now = Date.now()): Promise<void> {
  try {
    const all = (await run('readonly', (store) => store.getAll())) as StoredKey[];
    for (const { jkt, until } of all) if (until < now) await deleteKey(jkt);
  } catch {
    // No IndexedDB: nothing was kept.
  }
}
