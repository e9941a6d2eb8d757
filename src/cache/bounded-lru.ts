/**
 * A size-bounded map with approximate least-recently-used eviction (CLOCK, "second chance");
 * freshness is decided by the callers with the injected Clock, so it carries no TTL of its own.
 *
 * Why not lru-cache any more (issue 15): with 100,000 keys read in random order, an exact LRU
 * relinks its recency list on every read (the entry and both neighbours: three random memory
 * writes), and that list walk showed as 7-9 % of the gateway's CPU. CLOCK marks a read with one
 * byte (`used[slot] = 1`); eviction sweeps a hand over the slots, clearing marks and evicting the
 * first unmarked one, so an entry read since the hand last passed survives, and one never read
 * again goes within two sweeps. Storage is flat: one Map from key to slot, the keys and values in
 * two arrays, the marks in a Uint8Array, freed slots on a stack; no object per entry.
 *
 * Each entry may carry a number besides its value (`stamp`: the key cache's freshness deadline), kept
 * in a Float64Array: an object per entry to pair the two was ~56 bytes with its boxed number.
 *
 * Differences from an exact LRU: among entries read since the hand's last pass, the order of
 * eviction is slot order, not recency. A new entry starts unmarked (as in SIEVE): one that is
 * never read goes before any entry read since the hand passed, so a stream of one-off keys
 * cannot push out a hot one.
 */
export class BoundedLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>> {
  private readonly slots = new Map<K, number>();
  private readonly keys: (K | undefined)[] = [];
  private readonly values: (V | undefined)[] = [];
  private readonly used: Uint8Array;
  private stamps: Float64Array<ArrayBuffer>;
  private readonly free: number[] = [];
  private hand = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError('max must be at least 1');
    this.used = new Uint8Array(max);
    this.stamps = new Float64Array(Math.min(max, 1024));
  }

  /** Reads and marks the entry as recently used. */
  get(key: K): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.used[slot] = 1;
    return this.values[slot];
  }

  /**
   * The entry's slot, marked as recently used, or -1 when there is none: its value and stamp are
   * `valueAt(slot)` and `stampAt(slot)` until the next write (one lookup for both).
   */
  find(key: K): number {
    const slot = this.slots.get(key);
    if (slot === undefined) return -1;
    this.used[slot] = 1;
    return slot;
  }

  valueAt(slot: number): V {
    return this.values[slot]!;
  }

  stampAt(slot: number): number {
    return this.stamps[slot]!;
  }

  /** Reads without touching recency (for invalidation scans and tests). */
  peek(key: K): V | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.values[slot];
  }

  set(key: K, value: V, stamp = 0): void {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.free.pop() ?? (this.keys.length < this.max ? this.keys.length : this.evict());
      this.slots.set(key, slot);
      this.keys[slot] = key;
      this.used[slot] = 0;
    } else this.used[slot] = 1;
    this.values[slot] = value;
    if (slot >= this.stamps.length) {
      const stamps = new Float64Array(
        Math.min(this.max, Math.max(slot + 1, Math.ceil(this.stamps.length * 1.5))),
      );
      stamps.set(this.stamps);
      this.stamps = stamps;
    }
    this.stamps[slot] = stamp;
  }

  delete(key: K): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    this.release(slot);
    return true;
  }

  clear(): void {
    this.slots.clear();
    this.keys.length = 0;
    this.values.length = 0;
    this.free.length = 0;
    this.used.fill(0);
    this.hand = 0;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Deletes every entry the predicate selects; returns how many. */
  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    let deleted = 0;
    for (const [key, slot] of this.slots) {
      if (predicate(this.values[slot]!, key)) {
        this.release(slot);
        deleted++;
      }
    }
    return deleted;
  }

  private release(slot: number): void {
    this.slots.delete(this.keys[slot]!);
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.used[slot] = 0;
    this.free.push(slot);
  }

  /** Frees the slot of the first entry the hand finds unmarked (clearing marks on its way). */
  private evict(): number {
    const { used, max } = this;
    let hand = this.hand;
    while (used[hand] === 1) {
      used[hand] = 0;
      hand = hand + 1 === max ? 0 : hand + 1;
    }
    this.hand = hand + 1 === max ? 0 : hand + 1;
    this.slots.delete(this.keys[hand]!);
    return hand;
  }
}
