/** The last line of an error's message: enough for a warning, without a stack or a driver's multi-line dump. */
export function lastLineOf(error: unknown): string | undefined {
  return String((error as Error | undefined)?.message ?? error).split('\n').pop();
}
