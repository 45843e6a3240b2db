export interface LruCacheOptions<K, V> {
  /** Past it, the least recently used entry makes room. */
  maxEntries: number;
  /** Entries this old (since they were set) are misses; unset: they never age out. */
  ttlMs?: number;
  now?: () => number;
  /** Called for an entry dropped to make room, for values that hold resources. */
  onEvict?: (key: K, value: V) => void;
}

/**
 * The one bounded cache of the service: least recently used first out, with an optional
 * time to live. Written here rather than taken from the lru-cache package: the services
 * read time from a clock they are given (the package takes one only as a testing aid, and
 * reuses a reading for a while), and staleness must start at age == ttl so that
 * INTAKE_KEY_CACHE_MS bounds how long a revoked key keeps working.
 */
export class LruCache<K, V> {
  // A Map iterates in insertion order: re-inserting a key on use keeps the oldest first.
  private readonly entries = new Map<K, { value: V; at: number }>();
  private readonly now: () => number;

  constructor(private readonly options: LruCacheOptions<K, V>) {
    if (!(options.maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (this.options.ttlMs !== undefined && this.now() - entry.at >= this.options.ttlMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      this.options.onEvict?.(oldestKey, oldest.value);
    }
    this.entries.set(key, { value, at: this.now() });
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }
}
