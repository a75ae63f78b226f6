/**
 * Turns a listener API into the async iterator a GraphQL subscription
 * returns. Values queue until read; `return()` (the client unsubscribed or
 * the socket closed) detaches the listener at once.
 */
export function eventStream<T>(attach: (push: (value: T) => void) => () => void): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let wake: ((result: IteratorResult<T>) => void) | undefined;
  let done = false;
  const detach = attach((value) => {
    if (done) return;
    if (wake) {
      const resolve = wake;
      wake = undefined;
      resolve({ value, done: false });
    } else queue.push(value);
  });
  const finish = (): Promise<IteratorResult<T>> => {
    if (!done) {
      done = true;
      detach();
      wake?.({ value: undefined, done: true });
      wake = undefined;
    }
    return Promise.resolve({ value: undefined, done: true });
  };
  return {
    next() {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
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
