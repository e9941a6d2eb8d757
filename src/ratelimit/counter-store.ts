/**
 * Where window counters live. The memory store (embedded mode) and a Redis store (scale-out)
 * implement the same contract, so the admission logic does not know which one it talks to.
 *
 * The one operation that matters is `chargeAll`: an atomic all-or-nothing check-and-add over
 * every window a request touches. A store must decide and apply it as one indivisible step
 * (a synchronous section in memory; one Lua script in Redis), which is what makes "a request
 * refused by any window is charged to none" hold without refunds.
 *
 * Methods may answer synchronously: the memory store does, so an in-process admission makes its
 * whole decision without yielding to the event loop.
 */
import type { MaybePromise } from '../maybe-promise.js';
import type { Scope } from '../policy/limits.js';

export type { MaybePromise };
export { isPromise } from '../maybe-promise.js';

export interface CounterCharge {
  /** Counter identity (see `counterKey`); distinct within one call. */
  key: string;
  /** ≥ 0: 1 for request windows, the token reservation for token windows. */
  amount: number;
  /** The charge fits when `current + amount <= limit`. */
  limit: number;
  /**
   * How long the store must keep the counter at least (ms). Garbage collection only: counters
   * are keyed by window start, so a late expiry never leaks counts into the next window.
   */
  ttlMs: number;
  /**
   * Held while the request is in flight (parallel caps) instead of counted in a window: given back
   * with `endHeld`, never with `adjust`, and read as held. A store shared by several processes
   * (Redis) holds such charges under the charging process's lease, so the slots of a process that
   * dies are freed by themselves (src/budget/reservation-leases.ts).
   */
  held?: boolean;
  /**
   * A window counter's identity in parts (issue 15), set when the charge is one: `key` spells
   * `counterKey(scope, scopeId, WINDOWS[window].name, startMs)` (windows.ts). The memory store keeps
   * the windows of one scope together by these and never reads `key`; stores keyed by string
   * ignore them. `window` is the index in WINDOWS, absent or -1 on counters that are no window.
   */
  scope?: Scope;
  /**
   * An object living as long as the scope's cached state (the cached policy's `key` state): the
   * memory store may keep there where the scope's counters are (issue 15), so a request for one of
   * 100,000 keys finds them without probing a map of every key. Other stores ignore it.
   */
  holder?: object;
  scopeId?: string;
  window?: number;
  startMs?: number;
}

/** What a store needs to end one admission's held charges (Redis: their lease); opaque to callers. */
export type CounterHold = object;

export interface ChargeResult {
  /** True when every charge fitted and all were applied; false when none was applied. */
  ok: boolean;
  /** Per charge, in order: the value after the charge when ok, the untouched current value when not. */
  values: number[];
  /** Set when ok and a charge is held by a store that tracks holders: pass it to `endHeld`. */
  hold?: CounterHold;
}

/** A counter to read: a window counter's key, or a charge (held charges are read as held). */
export type CounterRef =
  string | Pick<CounterCharge, 'key' | 'held' | 'scope' | 'scopeId' | 'window' | 'startMs'>;

/**
 * `group` (every method): the counters of one request share one group, the org id. A store that
 * shards counters (Redis Cluster) keeps a group on one shard, so `chargeAll` never spans two;
 * the same counter must always be named with the same group. Stores that do not shard ignore it.
 */
export interface CounterStore {
  chargeAll(charges: readonly CounterCharge[], group?: string): MaybePromise<ChargeResult>;
  /**
   * Unconditional add (negative refunds), used by settle and release. The result never goes
   * below zero, so a refund to a counter that no longer exists (its window is over) reads as 0.
   */
  adjust(key: string, delta: number, ttlMs: number, group?: string): MaybePromise<void>;
  /**
   * The request whose `chargeAll` took `charges` ended: each held one among them goes down by its
   * amount (never below zero). `hold` is that call's `ChargeResult.hold`.
   */
  endHeld(
    charges: readonly CounterCharge[],
    hold: CounterHold | undefined,
    group?: string,
  ): MaybePromise<void>;
  /**
   * Optional: `adjust(charges[i].key, deltas[i], charges[i].ttlMs)` for every `i` whose delta is
   * not 0, all at one instant (a store on a clock reads it once). LimitsAdmission settles a
   * request's charges with it when the store has it, one `adjust` per charge otherwise.
   */
  adjustAll?(
    charges: readonly CounterCharge[],
    deltas: readonly number[],
    group?: string,
  ): MaybePromise<void>;
  /** Current values, 0 for counters that do not exist. */
  read(counters: readonly CounterRef[], group?: string): MaybePromise<number[]>;
}

/** The key of a counter to read. */
export function refKey(counter: CounterRef): string {
  return typeof counter === 'string' ? counter : counter.key;
}

/** A counter or spend store failed (or rejected with something that is not an Error). */
export class CounterStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CounterStoreError';
  }
}

/** Await a store answer, turning whatever it rejects with into an Error subclass. */
export async function settled<T>(value: Promise<T>, what: string): Promise<T> {
  try {
    return await value;
  } catch (cause) {
    if (cause instanceof Error) throw new CounterStoreError(`${what}: ${cause.message}`, { cause });
    throw new CounterStoreError(`${what}: ${String(cause)}`, { cause });
  }
}
