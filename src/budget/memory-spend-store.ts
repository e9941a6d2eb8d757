/**
 * The SpendStore of embedded mode: one gateway's spend view in process (SpendLedger does the
 * per-scope arithmetic and the rebase on loads). Every method answers synchronously, so
 * LimitsAdmission's reserve-if-fits runs in one synchronous section with its window charge.
 *
 * `seal` is this store's own: the usage reporter seals local spend into numbered batches, and a
 * later load that includes a batch drops it again (see spend-ledger.ts). gateway/main.ts wires it.
 */
import { SCOPES, type Scope } from '../policy/limits.js';
import { scopeState, type ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import { SpendLedger, spendMicros, type ScopeSpend } from './spend-ledger.js';
import type { ScopeSpendView, SpendReservation, SpendReserveResult, SpendStore } from './spend-store.js';

class MemoryReservation implements SpendReservation {
  constructor(
    readonly owner: MemorySpendStore,
    readonly micros: number,
    /** The three scopes' entries; cleared when the reservation ends. */
    public entries: ScopeSpend[] | undefined,
  ) {}
}

export class MemorySpendStore implements SpendStore {
  private readonly ledger = new SpendLedger(true);

  observe(policy: ResolvedKeyPolicy): void {
    this.entries(policy);
  }

  reserve(policy: ResolvedKeyPolicy, micros: number): SpendReserveResult {
    const entries = this.entries(policy);
    for (let i = 0; i < SCOPES.length; i++) {
      const scope = SCOPES[i]!;
      const max = scopeState(policy, scope).limits.maxBudgetMicros;
      if (max !== null && !this.ledger.fits(entries[i]!, max, micros)) return { ok: false, scope };
    }
    for (const entry of entries) this.ledger.reserve(entry, micros);
    return { ok: true, reservation: new MemoryReservation(this, micros, entries) };
  }

  settle(reservation: SpendReservation, costMicros: number): void {
    const entries = this.take(reservation);
    if (entries === undefined) return;
    for (const entry of entries) this.ledger.settle(entry, reservation.micros, costMicros);
  }

  release(reservation: SpendReservation): void {
    const entries = this.take(reservation);
    if (entries === undefined) return;
    for (const entry of entries) this.ledger.unreserve(entry, reservation.micros);
  }

  /** The usage reporter sealed everything settled so far into usage batch `batchSeq`. */
  seal(batchSeq: number): void {
    this.ledger.seal(batchSeq);
  }

  /** The admin's store went back (restored): the next load of each scope is its new baseline. */
  forgetLoadOrder(): void {
    this.ledger.forgetLoadOrder();
  }

  spendOf(scope: Scope, id: string): ScopeSpendView | null {
    const entry = this.ledger.get(scope, id);
    return entry === undefined
      ? null
      : { spendMicros: spendMicros(entry), reservedMicros: entry.reservedMicros };
  }

  private entries(policy: ResolvedKeyPolicy): ScopeSpend[] {
    const { version, appliedBatchSeq } = policy;
    return [
      this.ledger.observe('key', policy.key, version, appliedBatchSeq),
      this.ledger.observe('team', policy.team, version, appliedBatchSeq),
      this.ledger.observe('org', policy.org, version, appliedBatchSeq),
    ];
  }

  private take(reservation: SpendReservation): ScopeSpend[] | undefined {
    if (!(reservation instanceof MemoryReservation) || reservation.owner !== this) return undefined;
    const entries = reservation.entries;
    reservation.entries = undefined;
    return entries;
  }
}
