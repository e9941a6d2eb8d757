/**
 * Where budget spend lives, per scope (key, team, org), in integer micro-USD. The memory store
 * (embedded mode, src/budget/memory-spend-store.ts) keeps one gateway's view in process; a Redis
 * store (scale-out) keeps one shared counter per scope, seeded from the persisted spend a loaded
 * policy carries, so LimitsAdmission does not know which one it talks to (as with CounterStore).
 *
 * The one operation that matters is `reserve`: all-or-nothing over the three scopes. A store
 * decides and applies it as one indivisible step (a synchronous section in memory; one Lua script
 * in Redis), so a request refused by one budget holds no reservation on the others and two
 * concurrent requests can never both fit into the last few cents.
 *
 * Every reservation ends exactly once, by `settle` (it becomes real spend) or `release` (handed
 * back); later calls on the same reservation are no-ops.
 */
import type { MaybePromise } from '../maybe-promise.js';
import type { Scope } from '../policy/limits.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';

/** A reservation held by one admitted request; opaque to everyone but the store that made it. */
export interface SpendReservation {
  /** The reserved amount (micro-USD, a non-negative integer), on each of the three scopes. */
  readonly micros: number;
}

export type SpendReserveResult =
  | { ok: true; reservation: SpendReservation }
  /** The first scope (key, team, org order) whose budget the request does not fit. */
  | { ok: false; scope: Scope };

export interface ScopeSpendView {
  spendMicros: number;
  reservedMicros: number;
}

export interface SpendStore {
  /**
   * A loaded policy carries the persisted spend of its key, team and org (with the version and
   * the usage batch it includes): seed or rebase the scopes on it. Also done by `reserve`.
   */
  observe(policy: ResolvedKeyPolicy): MaybePromise<void>;
  /**
   * When spend + reservations + `micros` stays within the budget of every scope of `policy` that
   * has one, reserve `micros` on all three scopes; otherwise reserve nothing.
   */
  reserve(policy: ResolvedKeyPolicy, micros: number): MaybePromise<SpendReserveResult>;
  /** The reservation becomes real spend of `costMicros` (a non-negative integer, may be 0). */
  settle(reservation: SpendReservation, costMicros: number): MaybePromise<void>;
  /** The reservation is handed back; nothing was spent. */
  release(reservation: SpendReservation): MaybePromise<void>;
  /**
   * True for a store whose `settle` answers asynchronously (Redis): LimitsAdmission then settles
   * spend in the same event-loop turn as the window adjustments rather than after them, so stores
   * that batch their settlements (redis-call-batcher.ts) send both in one call. A synchronous
   * store is settled after the windows (see LimitsAdmission `book`).
   */
  readonly settlesAsynchronously?: boolean;
  /** Spend and in-flight reservations of one scope, null when the store has not seen it. */
  spendOf(scope: Scope, id: string): MaybePromise<ScopeSpendView | null>;
}
