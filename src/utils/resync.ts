/**
 * Reading state kept from the bus again after an outage (what was published
 * meanwhile is lost) without undoing what is heard during that read: a key
 * heard while the read is on its way is newer than the read, so the read's
 * value for it is ignored. When the bus comes back twice in a row, two reads
 * may be on their way at once: a read is applied only when no read begun
 * after it has been applied already.
 */
export interface Resync {
  /** Notes that an event about `key` was just heard (and handled). */
  heard(key: string): void;
  /** Reads, then hands `apply` the read and the keys heard since the read began (unless a later read was applied first). */
  run<T>(read: () => Promise<T>, apply: (read: T, heardMeanwhile: ReadonlySet<string>) => void): Promise<void>;
}

export function createResync(): Resync {
  /** The keys heard during each read on its way. */
  const reading = new Set<Set<string>>();
  let begun = 0;
  let lastApplied = 0;
  return {
    heard(key) {
      for (const heard of reading) heard.add(key);
    },
    async run(read, apply) {
      const order = ++begun;
      const heard = new Set<string>();
      reading.add(heard);
      try {
        const value = await read();
        if (order < lastApplied) return;
        lastApplied = order;
        apply(value, heard);
      } finally {
        reading.delete(heard);
      }
    },
  };
}
