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

export function eventStream<T>(attach: (push: (value: T) => void, end: (...last: [] | [T]) => void) => () => void): EventStream<T> {
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
    } else queue.push(value);
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
  return {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done || ending) return finish();
      return new Promise((resolve) => (wake = resolve));
    },
    handOff(to) {
      if (queue.length > 0 || done || ending) return false;
      sink = to;
      return true;
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
}
