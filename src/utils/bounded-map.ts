/** Sets `key` in `map` (kept in insertion order), first dropping its oldest entry once it holds `limit`: a cache that cannot grow without bound. */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  if (!map.has(key) && map.size >= limit) map.delete(map.keys().next().value!);
  map.set(key, value);
}
