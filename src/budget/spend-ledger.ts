/**
 * The gateway's view of spend per scope (key, team, org), exact for one gateway (embedded mode).
 *
 * spend view = baseline (persisted spend from the last accepted policy load)
 *            + local spend sealed into usage batches the admin plane had not applied at that load
 *            + local spend not sealed into any batch yet.
 * A budget check adds the in-flight reservations and the new request's estimate on top.
 *
 * Rebase (`observe`): a load carries `spendMicros` and `appliedBatchSeq` (the highest usage batch
 * of this gateway already in that spend), read together by the admin plane. Accepting it sets the
 * baseline and drops local batches ≤ appliedBatchSeq, which are now inside the baseline; batches
 * after it and unsealed spend are kept, so nothing is counted twice or lost.
 *
 * Ordering: team and org scopes are seen through many cached key policies loaded at different
 * times, so an older load must never replace a newer baseline (it would forget spend, or, after
 * local batches were dropped, lose them). Loads are ordered by (appliedBatchSeq, version), both
 * monotone in time at the admin plane: an older one on either is ignored. On a full tie the two
 * loads agree on this gateway's batches and differ at most by other gateways' spend applied in
 * between, which only grows, so the larger baseline is the newer one. A spend reset through the
 * admin API bumps `version`, so it is accepted even though the number goes down.
 *
 * Both numberings belong to one database. When the admin plane's store goes back (restored from a
 * backup: its change log's head falls below the gateway's cursor, change-follower.ts `onReset`),
 * its loads carry lower numbers than every baseline here and would all be ignored until the
 * numbering caught up: `forgetLoadOrder` makes the next load of every scope the new baseline.
 */
import type { Scope } from '../policy/limits.js';
import type { ScopeState } from '../policy/resolved-policy.js';

export interface ScopeSpend {
  baselineMicros: number;
  baselineVersion: number;
  baselineAppliedSeq: number;
  /** Sum of the in-flight budget reservations. */
  reservedMicros: number;
  /** Local settled spend not sealed into a usage batch yet. */
  unsealedMicros: number;
  /**
   * Local spend per sealed batch the baseline does not include. A scope holds one or two such
   * batches at a time (until its next load), and every cached key that spent holds one, so the
   * first is kept in two fields (`sealedSeq` 0 = none) and only the others in an array of pairs
   * `[seq, micros, ...]` (null when there are none): an array of one pair cost ~64 bytes per key.
   */
  sealedSeq: number;
  sealedSeqMicros: number;
  moreSealed: number[] | null;
}

export class SpendLedger {
  /** Per scope, in SCOPES order (an array: a load keyed by scope name is megamorphic). */
  private readonly scopes: Map<string, ScopeSpend>[] = [new Map(), new Map(), new Map()];
  /**
   * Scopes holding unsealed spend, each once: `seal` touches only these. An entry joins when its
   * unsealed spend leaves 0 (it only grows until `seal` sets it back to 0), so no Set is needed.
   */
  private unsealed: ScopeSpend[] = [];

  /**
   * Per ledger: the property under which a key's state object (the cached policy's `key`, one per
   * cached key) keeps its entry, so a request for a key reaches its spend without probing the map
   * of every key that spent (issue 15: one likely cache miss less per request with many keys).
   * Non-enumerable, on this ledger's own symbol: invisible to JSON and equality, and a policy seen
   * by two ledgers (tests) keeps one entry for each. Entries are never deleted, so it stays valid.
   */
  private readonly memo = Symbol('spend entry');

  /**
   * `memoKeyStates`: keep the memo on key states (MemorySpendStore, whose policies are the cached
   * ones). Off for ledgers that see a fresh state object per request (a period's, whose states
   * are built per request): defining the property on each would cost more than the probe.
   */
  constructor(private readonly memoKeyStates = false) {}

  /** The scope's entry, rebased on `state` when this load is not older than the last accepted one. */
  observe(scope: Scope, state: ScopeState, version: number, appliedBatchSeq: number): ScopeSpend {
    let entry = (state as unknown as Record<symbol, ScopeSpend | undefined>)[this.memo];
    if (entry === undefined) {
      entry = this.mapOf(scope).get(state.id);
      // Team and org states are interned and frozen (and shared: their map is small anyway).
      if (entry !== undefined && this.memoKeyStates && scope === 'key' && Object.isExtensible(state))
        Object.defineProperty(state, this.memo, { value: entry, writable: false, enumerable: false });
    }
    if (entry === undefined) {
      const scopes = this.mapOf(scope);
      entry = {
        baselineMicros: state.spendMicros,
        baselineVersion: version,
        baselineAppliedSeq: appliedBatchSeq,
        reservedMicros: 0,
        unsealedMicros: 0,
        sealedSeq: 0,
        sealedSeqMicros: 0,
        moreSealed: null,
      };
      scopes.set(state.id, entry);
      if (this.memoKeyStates && scope === 'key' && Object.isExtensible(state))
        Object.defineProperty(state, this.memo, { value: entry, writable: false, enumerable: false });
      return entry;
    }
    if (appliedBatchSeq < entry.baselineAppliedSeq || version < entry.baselineVersion) return entry;
    if (appliedBatchSeq === entry.baselineAppliedSeq && version === entry.baselineVersion) {
      if (state.spendMicros > entry.baselineMicros) entry.baselineMicros = state.spendMicros;
      return entry;
    }
    entry.baselineMicros = state.spendMicros;
    entry.baselineVersion = version;
    entry.baselineAppliedSeq = appliedBatchSeq;
    if (entry.sealedSeq !== 0) {
      const kept: number[] = [];
      if (entry.sealedSeq > appliedBatchSeq) kept.push(entry.sealedSeq, entry.sealedSeqMicros);
      const more = entry.moreSealed;
      if (more !== null)
        for (let i = 0; i < more.length; i += 2)
          if (more[i]! > appliedBatchSeq) kept.push(more[i]!, more[i + 1]!);
      entry.sealedSeq = kept.length > 0 ? kept[0]! : 0;
      entry.sealedSeqMicros = kept.length > 0 ? kept[1]! : 0;
      entry.moreSealed = kept.length > 2 ? kept.slice(2) : null; // slice: exact size
    }
    return entry;
  }

  /**
   * The loads' source went back: accept the next load of every scope whatever its numbers. Local
   * spend, sealed batches and reservations stay (a load drops only the batches it includes).
   */
  forgetLoadOrder(): void {
    for (const scopes of this.scopes) {
      for (const entry of scopes.values()) {
        entry.baselineVersion = -1;
        entry.baselineAppliedSeq = -1;
      }
    }
  }

  get(scope: Scope, id: string): ScopeSpend | undefined {
    return this.mapOf(scope).get(id);
  }

  private mapOf(scope: Scope): Map<string, ScopeSpend> {
    return this.scopes[scope === 'key' ? 0 : scope === 'team' ? 1 : 2]!;
  }

  /** Spend plus reservations plus `estimateMicros` stays within `maxMicros`. */
  fits(entry: ScopeSpend, maxMicros: number, estimateMicros: number): boolean {
    return spendMicros(entry) + entry.reservedMicros + estimateMicros <= maxMicros;
  }

  reserve(entry: ScopeSpend, micros: number): void {
    entry.reservedMicros += micros;
  }

  unreserve(entry: ScopeSpend, micros: number): void {
    entry.reservedMicros -= micros;
  }

  /** Turn a reservation into real spend. */
  settle(entry: ScopeSpend, reservedMicros: number, costMicros: number): void {
    entry.reservedMicros -= reservedMicros;
    if (costMicros === 0) return;
    if (entry.unsealedMicros === 0) this.unsealed.push(entry);
    entry.unsealedMicros += costMicros;
  }

  /** Everything settled so far and not yet sealed now belongs to usage batch `batchSeq`. */
  seal(batchSeq: number): void {
    for (const entry of this.unsealed) {
      if (entry.sealedSeq === 0) {
        entry.sealedSeq = batchSeq;
        entry.sealedSeqMicros = entry.unsealedMicros;
      } else if (entry.sealedSeq === batchSeq) entry.sealedSeqMicros += entry.unsealedMicros;
      else {
        const more = entry.moreSealed;
        // A literal of exactly one pair (push on an empty array reserves 17 slots).
        if (more === null) entry.moreSealed = [batchSeq, entry.unsealedMicros];
        else {
          let i = 0;
          while (i < more.length && more[i] !== batchSeq) i += 2;
          if (i < more.length) more[i + 1]! += entry.unsealedMicros;
          else more.push(batchSeq, entry.unsealedMicros);
        }
      }
      entry.unsealedMicros = 0;
    }
    this.unsealed = [];
  }
}

export function spendMicros(entry: ScopeSpend): number {
  let sealed = entry.sealedSeqMicros;
  const more = entry.moreSealed;
  if (more !== null) for (let i = 1; i < more.length; i += 2) sealed += more[i]!;
  return entry.baselineMicros + sealed + entry.unsealedMicros;
}
