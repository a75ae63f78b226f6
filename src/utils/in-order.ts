/**
 * Hands out values in the order they were given, each once it is ready: a
 * value still being read (a user's row for an event) holds back the ones
 * given after it, so that listeners see events in the order they happened.
 */

/**
 * Returns `give`: each value given, or what its promise settles to, reaches
 * `handOut` in turn; one that settles to null or undefined is skipped. A
 * fault (a rejected promise, a throwing `handOut`) goes to `onError` and the
 * next value is handed out as ever.
 */
export function inOrder<T>(handOut: (value: T) => void, onError: (error: unknown) => void): (next: T | PromiseLike<T | null | undefined>) => void {
  let last: Promise<void> = Promise.resolve();
  return (next) => {
    last = last
      .then(async () => {
        const value = await next;
        if (value !== null && value !== undefined) handOut(value);
      })
      .catch(onError);
  };
}
