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
import {
  refKey,
  type ChargeResult,
  type CounterCharge,
  type CounterRef,
  type CounterStore,
} from './counter-store.js';

export interface MemoryCounterStoreOptions {
  /** Clock of the garbage collection; the system clock by default. */
  clock?: Clock;
  /** A bare epoch-ms function instead of a Clock (overrides `clock`). */
  now?: () => number;
}

/** Most expired counters deleted by one write (the rest by the following writes). */
const SWEEP_BATCH = 256;

/** Counters created with one ttl, as slots in creation (= expiry) order; `head` = first live one. */
class ExpiryQueue {
  slots: number[] = [];
  head = 0;

  /** Drops the consumed front once it is most of the array (amortized O(1) per counter). */
  compact(): void {
    if (this.head === this.slots.length) {
      this.slots = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Per-counter storage (issue 15): a Map from counter key to a slot number, the value and expiry
 * of each slot in Float64Arrays, freed slots reused. One map probe per charge (the check pass
 * keeps the slot for the commit pass) where a Map of values needed three (get, get, set), and no
 * heap object per counter besides its key string, so a new window reuses the slot its key's
 * previous window freed.
 */
export class MemoryCounterStore implements CounterStore {
  /**
   * Counter key → slot. Invariant: every slot in use has exactly one place in the queue of the
   * ttl it was created with, and a slot is freed only by the sweep, through that place.
   */
  private readonly slotOf = new Map<string, number>();
  private keys: (string | undefined)[] = [];
  private values = new Float64Array(1024);
  private expiries = new Float64Array(1024);
  private readonly free: number[] = [];
  private readonly queues = new Map<number, ExpiryQueue>();
  /** Slots of the charges of the call in progress (-1 = no counter yet); reused. */
  private scratch = new Int32Array(16);
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
    if (charges.length > this.scratch.length) this.scratch = new Int32Array(charges.length * 2);
    const slots = this.scratch;
    const values = new Array<number>(charges.length);
    let ok = true;
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      const slot = this.slotOf.get(charge.key);
      const current = slot === undefined ? 0 : this.values[slot]!;
      slots[i] = slot ?? -1;
      values[i] = current;
      if (current + charge.amount > charge.limit) ok = false;
    }
    if (!ok) return { ok, values };
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      const slot = slots[i]!;
      if (slot >= 0) values[i] = this.values[slot] = Math.max(0, this.values[slot]! + charge.amount);
      else values[i] = this.create(charge.key, charge.amount, charge.ttlMs, now);
    }
    return { ok, values };
  }

  adjust(key: string, delta: number, ttlMs: number): void {
    const now = this.now();
    if (now >= this.nextExpiry) this.sweep(now);
    this.add(key, delta, ttlMs, now);
  }

  /** The adjusts of a settled request at one clock reading (a clock read costs more than a lookup). */
  adjustAll(charges: readonly CounterCharge[], deltas: readonly number[]): void {
    let now: number | undefined; // read at the first adjust: no adjust, no write (nor sweep), as with `adjust`
    for (let i = 0; i < charges.length; i++) {
      const delta = deltas[i]!;
      if (delta === 0) continue;
      if (now === undefined) {
        now = this.now();
        if (now >= this.nextExpiry) this.sweep(now);
      }
      const charge = charges[i]!;
      this.add(charge.key, delta, charge.ttlMs, now);
    }
  }

  private add(key: string, delta: number, ttlMs: number, now: number): void {
    const slot = this.slotOf.get(key);
    if (slot !== undefined) {
      this.values[slot] = Math.max(0, this.values[slot]! + delta);
      return;
    }
    // A refund to a counter that no longer exists (its window is over) reads as 0, and a zero
    // adjustment changes nothing: neither creates a counter (nor gives it a lifetime).
    if (delta > 0) this.create(key, delta, ttlMs, now);
  }

  /**
   * Held charges die with this process, so they need no lease: a plain refund, which never creates
   * a counter (so reads no clock; a counter already gone reads as 0 anyway).
   */
  endHeld(charges: readonly CounterCharge[]): void {
    for (const charge of charges) {
      if (charge.held !== true) continue;
      const slot = this.slotOf.get(charge.key);
      if (slot !== undefined) this.values[slot] = Math.max(0, this.values[slot]! - charge.amount);
    }
  }

  read(counters: readonly CounterRef[]): number[] {
    const values = new Array<number>(counters.length);
    for (let i = 0; i < counters.length; i++) {
      const slot = this.slotOf.get(refKey(counters[i]!));
      values[i] = slot === undefined ? 0 : this.values[slot]!;
    }
    return values;
  }

  /** Counters held, expired ones not swept yet included (tests and diagnostics). */
  get size(): number {
    return this.slotOf.size;
  }

  /** Slots ever allocated (live + free): stays flat while windows roll over (tests, diagnostics). */
  get slotCount(): number {
    return this.keys.length;
  }

  /** A new counter at `max(0, delta)`, expiring `ttlMs` from now. */
  private create(key: string, delta: number, ttlMs: number, now: number): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.keys.length;
      if (slot === this.values.length) this.grow();
    }
    const value = delta > 0 ? delta : 0;
    const expiresAt = now + Math.max(1, ttlMs);
    this.slotOf.set(key, slot);
    this.keys[slot] = key;
    this.values[slot] = value;
    this.expiries[slot] = expiresAt;
    let queue = this.queues.get(ttlMs);
    if (queue === undefined) {
      queue = new ExpiryQueue();
      this.queues.set(ttlMs, queue);
    }
    if (expiresAt < this.nextExpiry) this.nextExpiry = expiresAt;
    queue.slots.push(slot);
    return value;
  }

  private grow(): void {
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.values = values;
    const expiries = new Float64Array(this.expiries.length * 2);
    expiries.set(this.expiries);
    this.expiries = expiries;
  }

  /** Frees up to SWEEP_BATCH expired counters, then recomputes the earliest expiry. */
  private sweep(now: number): void {
    let budget = SWEEP_BATCH;
    let next = Infinity;
    const { expiries, keys } = this;
    for (const queue of this.queues.values()) {
      const { slots } = queue;
      let head = queue.head;
      while (budget > 0 && head < slots.length && expiries[slots[head]!]! <= now) {
        const slot = slots[head]!;
        this.slotOf.delete(keys[slot]!);
        keys[slot] = undefined;
        this.free.push(slot);
        head++;
        budget--;
      }
      queue.head = head;
      queue.compact();
      if (queue.head < queue.slots.length && expiries[queue.slots[queue.head]!]! < next) {
        next = expiries[queue.slots[queue.head]!]!;
      }
    }
    this.nextExpiry = next;
  }
}
