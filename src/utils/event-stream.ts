/**
 * Turns a listener API into the async iterator a GraphQL subscription
 * returns. Values queue until read; `end()` completes the stream once the
 * queue is read, after yielding its optional last value; `return()` (the
 * client unsubscribed or the socket closed) detaches the listener at once.
 *
 * The stream can also hand its values off (see {@link HandsOff}): shared
 * fan-out then delivers them straight to the socket, with no iterator step
 * per subscriber per event.
 */

export interface BoundedStreamOptions {
  /**
   * Most values that wait for the reader; past it the oldest is dropped, so
   * that a slow reader costs bounded memory. Such a stream does not hand its
   * values off: the bound, not the socket's buffer, is what it promises.
   */
  keep: number;
}
export interface HandsOff<T> {
  /**
   * From now on, passes every value to `sink` as it is pushed instead of
   * queuing it; `end`'s last value still comes through the iterator. False
   * (and nothing changes) while values are queued or once the stream ends.
   */
  handOff(sink: (value: T) => void): boolean;
}

export type EventStream<T> = AsyncIterableIterator<T> & HandsOff<T>;

export function isHandsOff<T>(stream: AsyncIterable<T>): stream is EventStream<T> {
  return typeof (stream as Partial<HandsOff<T>>).handOff === 'function';
}

type Attach<T> = (push: (value: T) => void, end: (...last: [] | [T]) => void) => () => void;

export function eventStream<T>(attach: Attach<T>): EventStream<T>;
export function eventStream<T>(attach: Attach<T>, options: BoundedStreamOptions): AsyncIterableIterator<T>;
export function eventStream<T>(attach: Attach<T>, options?: BoundedStreamOptions): EventStream<T> | AsyncIterableIterator<T> {
  const keep = options?.keep ?? Number.POSITIVE_INFINITY;
  const queue: T[] = [];
  let wake: ((result: IteratorResult<T>) => void) | undefined;
  let sink: ((value: T) => void) | undefined;
  let done = false;
  let ending = false;
  const enqueue = (value: T) => {
    if (wake) {
      const resolve = wake;
      wake = undefined;
      resolve({ value, done: false });
    } else if (queue.push(value) > keep) queue.shift();
  };
  const detach = attach(
    (value) => {
      if (done || ending) return;
      if (sink) sink(value);
      else enqueue(value);
    },
    (...last) => {
      if (done || ending) return;
      ending = true;
      sink = undefined;
      if (last.length) enqueue(last[0]);
      else if (wake) void finish();
    },
  );
  function finish(): Promise<IteratorResult<T>> {
    if (!done) {
      done = true;
      sink = undefined;
      detach();
      wake?.({ value: undefined, done: true });
      wake = undefined;
    }
    return Promise.resolve({ value: undefined, done: true });
  }
  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done || ending) return finish();
      return new Promise((resolve) => (wake = resolve));
    },
    return: finish,
    throw(error) {
      void finish();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  if (options) return iterator;
  return Object.assign(iterator, {
    handOff(to: (value: T) => void) {
      if (queue.length > 0 || done || ending) return false;
      sink = to;
      return true;
    },
  });
}
