/**
 * One shared resource per key (a room's bus subscription, a live room),
 * started for the first listener of the key and stopped when its last
 * listener leaves: a thousand listeners of one room share one start.
 */
export interface KeyedListeners<E, R> {
  /** Adds `listener` to `key`'s listeners; resolves once the key's resource has started (rejects, listening to nothing, if it fails to). */
  listen(key: string, listener: (event: E) => void): Promise<{ resource: R; stop: () => void }>;
  /** The resources started or starting now. */
  resources(): Promise<R>[];
  /** The resource of `key`, when it has listeners. */
  resource(key: string): Promise<R> | undefined;
}

/**
 * `start` makes the resource of a key and gets the function that hands an
 * event to every listener of that key; `stopResource` ends it.
 */
export function keyedListeners<E, R>(start: (key: string, emit: (event: E) => void) => Promise<R>, stopResource: (resource: R) => void): KeyedListeners<E, R> {
  const entries = new Map<string, { listeners: Set<(event: E) => void>; ready: Promise<R> }>();
  return {
    async listen(key, listener) {
      let entry = entries.get(key);
      if (!entry) {
        const listeners = new Set<(event: E) => void>();
        const created = {
          listeners,
          ready: start(key, (event) => {
            for (const l of listeners) l(event);
          }),
        };
        entry = created;
        entries.set(key, created);
        created.ready.catch(() => entries.get(key) === created && entries.delete(key));
      }
      const current = entry;
      current.listeners.add(listener);
      let resource: R;
      try {
        resource = await current.ready;
      } catch (error) {
        current.listeners.delete(listener);
        throw error;
      }
      return {
        resource,
        stop() {
          if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
          if (entries.get(key) === current) entries.delete(key);
          stopResource(resource);
        },
      };
    },
    resources: () => [...entries.values()].map((entry) => entry.ready),
    resource: (key) => entries.get(key)?.ready,
  };
}
