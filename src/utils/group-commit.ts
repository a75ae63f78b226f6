/**
 * Group commit: writes asked for while one is in flight wait, and then go
 * together in one statement. Nothing waits when nothing is in flight (a
 * quiet server answers as soon as its statement does); under load, what
 * would have been many statements, round trips and commits becomes one of
 * each per batch, each caller answered when its own row is committed.
 */

/** What a batch's run answers for one item: its result, or the error that item alone failed with. */
export type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface GroupCommitOptions<I, O> {
  /** Writes `items` together; one outcome per item, in order. A throw fails every item of the batch with it. */
  run(items: I[]): Promise<Outcome<O>[]>;
  /**
   * Most items in one batch.
   * @default 256
   */
  maxBatch?: number;
}

/** Returns `write`: `item` written with whatever else is asked for meanwhile. */
export function groupCommit<I, O>({ run, maxBatch = 256 }: GroupCommitOptions<I, O>): (item: I) => Promise<O> {
  let waiting: { item: I; resolve: (value: O) => void; reject: (error: unknown) => void }[] = [];
  let inFlight = false;

  function flush(): void {
    if (inFlight || waiting.length === 0) return;
    const batch = waiting.slice(0, maxBatch);
    waiting = waiting.slice(batch.length);
    inFlight = true;
    run(batch.map(({ item }) => item))
      .then(
        (outcomes) => batch.forEach(({ resolve, reject }, i) => (outcomes[i]?.ok ? resolve(outcomes[i].value) : reject(outcomes[i] ? outcomes[i].error : new Error('no outcome for a batched write')))),
        (error: unknown) => batch.forEach(({ reject }) => reject(error)),
      )
      .finally(() => {
        inFlight = false;
        flush();
      });
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      // What else this turn of the event loop asks for goes in the same batch.
      if (waiting.length === 1 && !inFlight) setImmediate(flush);
    });
}
