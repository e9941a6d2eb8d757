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
 *
 * Window counters (issue 15) live apart, in WindowCells: a charge that names its window in parts
 * (`scope`, `scopeId`, `window`, `startMs`, as LimitsAdmission's plans do) goes there without any
 * key string, and so does a string ref that parses as a window counter's key (`parseCounterKey`),
 * so both spellings of one counter reach the same count. The few window counters a cell does not
 * hold (an older start than its windows', see window-cells.ts) and every other counter (parallel
 * caps, arbitrary keys) are kept by key here. Cells expire a counter on the dot (it reads 0 from
 * its expiry on); counters kept by key are dropped by the lazy sweep, as before.
 */
import { systemClock, type Clock } from '../clock.js';
import {
  refKey,
  type ChargeResult,
  type CounterCharge,
  type CounterRef,
  type CounterStore,
} from './counter-store.js';
import { ABSENT, OTHER, WindowCells } from './window-cells.js';
import { WINDOWS, counterKey, parseCounterKey, type WindowCounterId } from './windows.js';

export interface MemoryCounterStoreOptions {
  /** Clock of the garbage collection; the system clock by default. */
  clock?: Clock;
  /** A bare epoch-ms function instead of a Clock (overrides `clock`). */
  now?: () => number;
}

/** Most expired counters deleted by one write (the rest by the following writes). */
const SWEEP_BATCH = 256;

/** Where a charge's counter is (the check pass keeps it for the commit pass). */
const IN_CELL = 0;
const NEW_IN_CELL = 1;
const BY_KEY = 2;
const NEW_BY_KEY = 3;

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

/** A ref's window identity: its own parts, or its key's when that parses as a window counter's. */
function windowOf(ref: CounterRef): WindowCounterId | undefined {
  if (typeof ref === 'string') return parseCounterKey(ref);
  if (ref.window !== undefined) return ref.window >= 0 ? (ref as WindowCounterId) : undefined;
  return ref.held === true ? undefined : parseCounterKey(ref.key);
}

/**
 * Counters kept by key (issue 15): a Map from counter key to a slot number, the value and expiry
 * of each slot in Float64Arrays, freed slots reused. One map probe per charge (the check pass
 * keeps the slot for the commit pass) where a Map of values needed three (get, get, set), and no
 * heap object per counter besides its key string.
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
  /**
   * Slots of window counters a cell handed over while alive (window-cells.ts `spill`: rare). Their
   * expiries are in no order, so each sweep looks at all of them.
   */
  private spilled: number[] = [];
  /** Per charge of the call in progress: where its counter is (IN_CELL, ...) and its index there. */
  private where = new Uint8Array(16);
  private at = new Int32Array(16);
  /** Earliest expiry of any queued counter (Infinity when none). */
  private nextExpiry = Infinity;
  private readonly now: () => number;
  private readonly cells = new WindowCells((scope, scopeId, window, startMs, value, expiresAt) =>
    this.insert(counterKey(scope, scopeId, WINDOWS[window]!.name, startMs), value, expiresAt, undefined),
  );

  constructor(options: MemoryCounterStoreOptions = {}) {
    const clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => clock.now());
  }

  chargeAll(charges: readonly CounterCharge[]): ChargeResult {
    const now = this.now();
    if (now >= this.nextExpiry) this.sweep(now);
    const count = charges.length;
    if (count > this.at.length) {
      this.where = new Uint8Array(count * 2);
      this.at = new Int32Array(count * 2);
    }
    const values = new Array<number>(count);
    let ok = true;
    for (let i = 0; i < count; i++) {
      const charge = charges[i]!;
      const current = this.find(charge, now, i);
      values[i] = current;
      if (current + charge.amount > charge.limit) ok = false;
    }
    if (!ok) return { ok, values };
    // Counters that exist first: creating one may move another of the same scope and window (a
    // roll, window-cells.ts), so no index found above is used after a creation.
    const { where, at } = this;
    const cellValues = this.cells.values;
    for (let i = 0; i < count; i++) {
      const kind = where[i]!;
      if (kind === IN_CELL) {
        const index = at[i]!;
        values[i] = cellValues[index] = Math.max(0, cellValues[index]! + charges[i]!.amount);
      } else if (kind === BY_KEY) {
        const slot = at[i]!;
        values[i] = this.values[slot] = Math.max(0, this.values[slot]! + charges[i]!.amount);
      }
    }
    for (let i = 0; i < count; i++) {
      const kind = where[i]!;
      if (kind === NEW_IN_CELL || kind === NEW_BY_KEY)
        values[i] = this.create(charges[i]!, charges[i]!.amount, now);
    }
    return { ok, values };
  }

  adjust(key: string, delta: number, ttlMs: number): void {
    const now = this.now();
    if (now >= this.nextExpiry) this.sweep(now);
    this.add({ key, amount: 0, limit: 0, ttlMs }, delta, now);
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
      this.add(charges[i]!, delta, now);
    }
  }

  private add(charge: CounterCharge, delta: number, now: number): void {
    this.find(charge, now, 0);
    const kind = this.where[0]!;
    const index = this.at[0]!;
    if (kind === IN_CELL) this.cells.values[index] = Math.max(0, this.cells.values[index]! + delta);
    else if (kind === BY_KEY) this.values[index] = Math.max(0, this.values[index]! + delta);
    // A refund to a counter that no longer exists (its window is over) reads as 0, and a zero
    // adjustment changes nothing: neither creates a counter (nor gives it a lifetime).
    else if (delta > 0) this.create(charge, delta, now);
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
    let now: number | undefined;
    for (let i = 0; i < counters.length; i++) {
      const ref = counters[i]!;
      const window = windowOf(ref);
      if (window !== undefined) {
        now ??= this.now();
        const index = this.cells.locate(window.scope, window.scopeId, window.window, window.startMs, now);
        if (index !== OTHER) {
          values[i] = index === ABSENT ? 0 : this.cells.values[index]!;
          continue;
        }
      }
      const slot = this.slotOf.get(refKey(ref));
      values[i] = slot === undefined ? 0 : this.values[slot]!;
    }
    return values;
  }

  /** Counters held, expired ones not swept yet included (tests and diagnostics). */
  get size(): number {
    return this.slotOf.size + this.cells.held;
  }

  /** Slots ever allocated (live + free): stays flat while windows roll over (tests, diagnostics). */
  get slotCount(): number {
    return this.keys.length + this.cells.slots;
  }

  /** Sets where[i] and at[i] for the charge's counter; returns its current value (0 when absent). */
  private find(charge: CounterCharge, now: number, i: number): number {
    const window =
      charge.window !== undefined && charge.window >= 0 ? (charge as WindowCounterId) : windowOf(charge);
    if (window !== undefined) {
      const index = this.cells.locate(
        window.scope,
        window.scopeId,
        window.window,
        window.startMs,
        now,
        charge.holder,
      );
      if (index >= 0) {
        this.where[i] = IN_CELL;
        this.at[i] = index;
        return this.cells.values[index]!;
      }
      if (index === ABSENT) {
        this.where[i] = NEW_IN_CELL;
        return 0;
      }
    }
    const slot = this.slotOf.get(charge.key);
    if (slot === undefined) {
      this.where[i] = NEW_BY_KEY;
      return 0;
    }
    this.where[i] = BY_KEY;
    this.at[i] = slot;
    return this.values[slot]!;
  }

  /** A new counter at `max(0, delta)`, expiring `ttlMs` from now; its value. */
  private create(charge: CounterCharge, delta: number, now: number): number {
    const value = delta > 0 ? delta : 0;
    const window = windowOf(charge);
    if (window !== undefined) {
      const index = this.cells.create(
        window.scope,
        window.scopeId,
        window.window,
        window.startMs,
        value,
        charge.ttlMs,
        now,
        charge.holder,
      );
      if (index !== OTHER) return value;
      this.cells.outlive(window.scope, window.scopeId, now + Math.max(1, charge.ttlMs));
    }
    this.insert(charge.key, value, now + Math.max(1, charge.ttlMs), charge.ttlMs);
    return value;
  }

  /** A counter kept by key, queued for the sweep with the counters of its ttl (none: spilled). */
  private insert(key: string, value: number, expiresAt: number, ttlMs: number | undefined): void {
    // An expired counter of this key not swept yet (a window counter whose cell was made anew) is
    // replaced: its slot is freed when the sweep reaches it, without touching the new mapping.
    const stale = this.slotOf.get(key);
    if (stale !== undefined) this.keys[stale] = undefined;
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.keys.length;
      if (slot === this.values.length) this.grow();
    }
    this.slotOf.set(key, slot);
    this.keys[slot] = key;
    this.values[slot] = value;
    this.expiries[slot] = expiresAt;
    if (expiresAt < this.nextExpiry) this.nextExpiry = expiresAt;
    if (ttlMs === undefined) {
      this.spilled.push(slot);
      return;
    }
    let queue = this.queues.get(ttlMs);
    if (queue === undefined) {
      queue = new ExpiryQueue();
      this.queues.set(ttlMs, queue);
    }
    queue.slots.push(slot);
  }

  private grow(): void {
    const values = new Float64Array(this.values.length * 2);
    values.set(this.values);
    this.values = values;
    const expiries = new Float64Array(this.expiries.length * 2);
    expiries.set(this.expiries);
    this.expiries = expiries;
  }

  /** Frees up to SWEEP_BATCH expired counters (and every expired spilled one), then recomputes the earliest expiry. */
  private sweep(now: number): void {
    let budget = SWEEP_BATCH;
    let next = Infinity;
    const { expiries, keys } = this;
    if (this.spilled.length > 0) {
      const live: number[] = [];
      for (const slot of this.spilled) {
        if (expiries[slot]! <= now) {
          const key = keys[slot];
          if (key !== undefined) this.slotOf.delete(key);
          keys[slot] = undefined;
          this.free.push(slot);
        } else {
          live.push(slot);
          if (expiries[slot]! < next) next = expiries[slot]!;
        }
      }
      this.spilled = live;
    }
    for (const queue of this.queues.values()) {
      const { slots } = queue;
      let head = queue.head;
      while (budget > 0 && head < slots.length && expiries[slots[head]!]! <= now) {
        const slot = slots[head]!;
        const key = keys[slot];
        if (key !== undefined) this.slotOf.delete(key);
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
