/**
 * Window counters in process memory (embedded mode): one plain `Map` from counter key to value,
 * no timers, no per-counter objects.
 *
 * Why not rate-limiter-flexible here (it is not used by the Redis store either, see
 * redis-counter-store.ts): its `RateLimiterMemory.consume` charges a key even when it refuses and
 * `RateLimiterUnion` never refunds the limiters that accepted, so neither gives all-or-nothing
 * across windows; the store under it (`MemoryStorage`, used here before) keeps a record object,
 * a closure and a `setTimeout` per counter key. Measured with 100,000 cached keys carrying two
 * windows each (node --expose-gc, heap after GC): about 700 bytes per key for those records
 * and timers against about 110 with this map, and the decision path is faster without them.
 *
 * Atomicity: every method runs to completion without an `await` or a callback, so no other
 * request's JavaScript can run between the check of `chargeAll` and its commit; Node runs one
 * piece of JavaScript at a time per process. Check-then-commit in one synchronous section is
 * therefore indivisible, which is all "refused by one window, charged to none" needs.
 *
 * Expiry is garbage collection only: counter keys carry their window start, so a new window is a
 * new key whatever the clock, and callers ask for a ttl of at least what is left of the window.
 * A counter expires `ttlMs` after its creation (on `now`, real time by default; writes do not
 * extend it, as with rate-limiter-flexible's MemoryStorage). Expired counters are swept lazily at
 * the start of writes, before their check: creations are queued per ttl in creation order, which
 * for one ttl is expiry order, so a sweep pops exactly the expired counters from the queue heads
 * (at most `SWEEP_BATCH` per write, so a burst of expiries never stalls a request).
 */
import { systemClock, type Clock } from '../clock.js';
import type { ChargeResult, CounterCharge, CounterStore } from './counter-store.js';

export interface MemoryCounterStoreOptions {
  /** Clock of the garbage collection; the system clock by default. */
  clock?: Clock;
  /** A bare epoch-ms function instead of a Clock (overrides `clock`). */
  now?: () => number;
}

/** Most expired counters deleted by one write (the rest by the following writes). */
const SWEEP_BATCH = 256;

/** Counters created with one ttl, in creation (= expiry) order; `head` = first live slot. */
class ExpiryQueue {
  keys: string[] = [];
  expiries: number[] = [];
  head = 0;

  push(key: string, expiresAt: number): void {
    this.keys.push(key);
    this.expiries.push(expiresAt);
  }

  /** Drops the consumed front once it is most of the arrays (amortized O(1) per counter). */
  compact(): void {
    if (this.head === this.keys.length) {
      this.keys = [];
      this.expiries = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.expiries = this.expiries.slice(this.head);
      this.head = 0;
    }
  }
}

export class MemoryCounterStore implements CounterStore {
  /**
   * Counter key → value. Invariant: every key here has exactly one slot in the queue of the ttl
   * it was created with, and a key is deleted only by the sweep, through that slot.
   */
  private readonly counters = new Map<string, number>();
  private readonly queues = new Map<number, ExpiryQueue>();
  /** Earliest expiry of any queued counter (Infinity when none). */
  private nextExpiry = Infinity;
  private readonly now: () => number;

  constructor(options: MemoryCounterStoreOptions = {}) {
    const clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => clock.now());
  }

  chargeAll(charges: readonly CounterCharge[]): ChargeResult {
    const now = this.now();
    if (now >= this.nextExpiry) this.sweep(now);
    const values = new Array<number>(charges.length);
    let ok = true;
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      const current = this.counters.get(charge.key) ?? 0;
      values[i] = current;
      if (current + charge.amount > charge.limit) ok = false;
    }
    if (!ok) return { ok, values };
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      values[i] = this.add(charge.key, charge.amount, charge.ttlMs, now);
    }
    return { ok, values };
  }

  adjust(key: string, delta: number, ttlMs: number): void {
    const now = this.now();
    if (now >= this.nextExpiry) this.sweep(now);
    // A refund to a counter that no longer exists (its window is over) reads as 0, and a zero
    // adjustment changes nothing: neither creates a counter (nor gives it a lifetime).
    if (delta <= 0 && !this.counters.has(key)) return;
    this.add(key, delta, ttlMs, now);
  }

  read(keys: readonly string[]): number[] {
    const values = new Array<number>(keys.length);
    for (let i = 0; i < keys.length; i++) values[i] = this.counters.get(keys[i]!) ?? 0;
    return values;
  }

  /** Counters held, expired ones not swept yet included (tests and diagnostics). */
  get size(): number {
    return this.counters.size;
  }

  /** Adds `delta` (never below zero), creating the counter with its expiry when missing. */
  private add(key: string, delta: number, ttlMs: number, now: number): number {
    const current = this.counters.get(key);
    if (current !== undefined) {
      const next = current + delta > 0 ? current + delta : 0;
      this.counters.set(key, next);
      return next;
    }
    const next = delta > 0 ? delta : 0;
    this.counters.set(key, next);
    const expiresAt = now + Math.max(1, ttlMs);
    let queue = this.queues.get(ttlMs);
    if (queue === undefined) {
      queue = new ExpiryQueue();
      this.queues.set(ttlMs, queue);
    }
    if (expiresAt < this.nextExpiry) this.nextExpiry = expiresAt;
    queue.push(key, expiresAt);
    return next;
  }

  /** Deletes up to SWEEP_BATCH expired counters, then recomputes the earliest expiry. */
  private sweep(now: number): void {
    let budget = SWEEP_BATCH;
    let next = Infinity;
    for (const queue of this.queues.values()) {
      const { keys, expiries } = queue;
      let head = queue.head;
      while (budget > 0 && head < keys.length && expiries[head]! <= now) {
        this.counters.delete(keys[head]!);
        head++;
        budget--;
      }
      queue.head = head;
      queue.compact();
      if (queue.head < queue.keys.length && queue.expiries[queue.head]! < next) {
        next = queue.expiries[queue.head]!;
      }
    }
    this.nextExpiry = next;
  }
}
