/**
 * The one module that imports lru-cache (STYLE.md: each vendor library behind one module).
 * A size-bounded map with least-recently-used eviction; freshness is decided by the callers
 * with the injected Clock, so this wrapper carries no TTL of its own.
 */
import { LRUCache } from 'lru-cache';

export class BoundedLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>> {
  private readonly lru: LRUCache<K, V>;

  constructor(readonly max: number) {
    this.lru = new LRUCache<K, V>({ max });
  }

  /** Reads and marks the entry as recently used. */
  get(key: K): V | undefined {
    return this.lru.get(key);
  }

  /** Reads without touching recency (for invalidation scans and tests). */
  peek(key: K): V | undefined {
    return this.lru.peek(key);
  }

  set(key: K, value: V): void {
    this.lru.set(key, value);
  }

  delete(key: K): boolean {
    return this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  /** Deletes every entry the predicate selects; returns how many. */
  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    const doomed: K[] = [];
    for (const [key, value] of this.lru.entries()) if (predicate(value, key)) doomed.push(key);
    for (const key of doomed) this.lru.delete(key);
    return doomed.length;
  }
}
