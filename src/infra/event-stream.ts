/**
 * Turns a listener API into the async iterator a GraphQL subscription
 * returns. Values queue until read; `end()` completes the stream once the
 * queue is read; `return()` (the client unsubscribed or the socket closed)
 * detaches the listener at once.
 */
export function eventStream<T>(attach: (push: (value: T) => void, end: () => void) => () => void): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let wake: ((result: IteratorResult<T>) => void) | undefined;
  let done = false;
  let ending = false;
  const detach = attach(
    (value) => {
      if (done || ending) return;
      if (wake) {
        const resolve = wake;
        wake = undefined;
        resolve({ value, done: false });
      } else queue.push(value);
    },
    () => {
      ending = true;
      if (wake) void finish();
    },
  );
  function finish(): Promise<IteratorResult<T>> {
    if (!done) {
      done = true;
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
