/**
 * Window counters in process memory (embedded mode), on rate-limiter-flexible's synchronous
 * `MemoryStorage` (the store under its `RateLimiterMemory`). We do not use `RateLimiterMemory`
 * itself: its `consume` charges a key even when it refuses, and `RateLimiterUnion` never refunds
 * the limiters that accepted, so neither gives all-or-nothing across windows.
 *
 * Atomicity: every method runs to completion without an `await` or a callback, so no other
 * request's JavaScript can run between the check of `chargeAll` and its commit; Node runs one
 * piece of JavaScript at a time per process. Check-then-commit in one synchronous section is
 * therefore indivisible, which is all "refused by one window, charged to none" needs.
 *
 * Expiry: the storage expires records on real time (`Date.now`, unref'd timers). That is only
 * garbage collection: counter keys carry their window start, so a new window is a new key
 * whatever the clock. Callers ask for a ttl of at least one window length.
 */
import MemoryStorage from 'rate-limiter-flexible/lib/component/MemoryStorage/MemoryStorage.js';
import type { ChargeResult, CounterCharge, CounterStore } from './counter-store.js';

export class MemoryCounterStore implements CounterStore {
  private readonly storage = new MemoryStorage();

  chargeAll(charges: readonly CounterCharge[]): ChargeResult {
    const values = new Array<number>(charges.length);
    let ok = true;
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      const current = this.value(charge.key);
      values[i] = current;
      if (current + charge.amount > charge.limit) ok = false;
    }
    if (!ok) return { ok, values };
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      values[i] = this.storage.incrby(charge.key, charge.amount, ttlSeconds(charge.ttlMs)).consumedPoints;
    }
    return { ok, values };
  }

  adjust(key: string, delta: number, ttlMs: number): void {
    // One storage operation in the common case; a refund below zero (only possible for a counter
    // that expired and restarted) is clamped back to zero.
    const after = this.storage.incrby(key, delta, ttlSeconds(ttlMs)).consumedPoints;
    if (after < 0) this.storage.incrby(key, -after, ttlSeconds(ttlMs));
  }

  read(keys: readonly string[]): number[] {
    return keys.map((key) => this.value(key));
  }

  private value(key: string): number {
    return this.storage.get(key)?.consumedPoints ?? 0;
  }
}

function ttlSeconds(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs / 1000));
}
