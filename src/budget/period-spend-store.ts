/**
 * Budget periods at the gateway (issue 14 item 2): a SpendStore that keeps lifetime spend in a
 * MemorySpendStore and the spend of each current calendar period (UTC day, week from Monday,
 * month from the 1st; src/budget/period.ts) in one SpendLedger per period. A scope with
 * `budgetPeriod` has its budget checked against its period's spend only; the others against
 * lifetime spend.
 *
 * Reset at the boundary without the admin plane: the period ledgers are chosen on the injected
 * clock, and at the first request of a new period its ledger starts empty. A load's period spend
 * seeds it only when the admin's `periodStartMs` is that period (else the period's spend is 0).
 * Rebase and sealing work per ledger exactly as for lifetime spend (spend-ledger.ts), since the
 * admin adds a batch to the period spend of the period of its requests. A request's cost belongs
 * to the period it was admitted in (its reservation's).
 *
 * A reservation spans the lifetime store (when the policy has a lifetime budget) and the period
 * entries of the scopes budgeted per period, taken in one synchronous section: all or nothing.
 */
import type { Clock } from '../clock.js';
import { SCOPES, type Limits, type Scope } from '../policy/limits.js';
import { scopeState, type ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import { MemorySpendStore } from './memory-spend-store.js';
import { BUDGET_PERIODS, PeriodClock, periodIndex, type BudgetPeriod } from './period.js';
import { SpendLedger, spendMicros, type ScopeSpend } from './spend-ledger.js';
import type { ScopeSpendView, SpendReservation, SpendReserveResult, SpendStore } from './spend-store.js';

interface PeriodSlot {
  startMs: number;
  ledger: SpendLedger;
  /** Distinct for every slot this store ever made (a new period, or a clock set back, makes one). */
  generation: number;
}

class PeriodReservation implements SpendReservation {
  constructor(
    readonly owner: PeriodSpendStore,
    readonly micros: number,
    /** The lifetime store's reservation, when the policy has a lifetime budget. */
    public lifetime: SpendReservation | undefined,
    /** Period entries reserved on, and the ledger of each (cleared when the reservation ends). */
    public entries: ScopeSpend[] | undefined,
    readonly ledgers: SpendLedger[],
  ) {}
}

/** What one policy object needs, computed once per object. */
interface PolicyViews {
  /** The policy with per-period budgets removed (lifetime budgets only). */
  lifetime: ResolvedKeyPolicy;
  lifetimeBudgets: boolean;
  /** Scopes with a budget per period, in key, team, org order. */
  periodScopes: Scope[];
  /** Per scope of periodScopes: its budget period. */
  periods: BudgetPeriod[];
  /**
   * Per scope of periodScopes: its entry in the ledger of slot `generation`. Observing that ledger
   * again with this same (immutable) policy would change nothing, as a ledger only ever accepts
   * loads at least as new as its entry's baseline, so the entry is looked up once per slot.
   */
  periodEntries: ({ generation: number; entry: ScopeSpend } | undefined)[];
}

export class PeriodSpendStore implements SpendStore {
  private readonly lifetime = new MemorySpendStore();
  /** The current slot of each period, in BUDGET_PERIODS order. */
  private readonly slots: (PeriodSlot | undefined)[] = [];
  private generations = 0;
  private readonly periodClock = new PeriodClock();
  private readonly views = new WeakMap<ResolvedKeyPolicy, PolicyViews | null>();
  /** `scope:id` → the budget period it was last seen with (for spendOf). */
  private readonly periodOf = new Map<string, BudgetPeriod>();

  constructor(private readonly clock: Clock) {}

  observe(policy: ResolvedKeyPolicy): void {
    const views = this.viewsOf(policy);
    if (views === null) return this.lifetime.observe(policy);
    this.lifetime.observe(views.lifetime);
    const ledgers: SpendLedger[] = [];
    this.periodEntries(policy, views, this.clock.now(), ledgers);
  }

  reserve(policy: ResolvedKeyPolicy, micros: number): SpendReserveResult {
    const views = this.viewsOf(policy);
    if (views === null) return this.lifetime.reserve(policy, micros);
    const ledgers: SpendLedger[] = [];
    const entries = this.periodEntries(policy, views, this.clock.now(), ledgers);
    for (let i = 0; i < entries.length; i++) {
      const scope = views.periodScopes[i]!;
      if (!ledgers[i]!.fits(entries[i]!, scopeState(policy, scope).limits.maxBudgetMicros!, micros))
        return { ok: false, scope };
    }
    let lifetime: SpendReservation | undefined;
    if (views.lifetimeBudgets) {
      const first = this.lifetime.reserve(views.lifetime, micros);
      if (!first.ok) return first;
      lifetime = first.reservation;
    } else this.lifetime.observe(views.lifetime);
    for (let i = 0; i < entries.length; i++) ledgers[i]!.reserve(entries[i]!, micros);
    return { ok: true, reservation: new PeriodReservation(this, micros, lifetime, entries, ledgers) };
  }

  settle(reservation: SpendReservation, costMicros: number): void {
    if (!(reservation instanceof PeriodReservation)) return this.lifetime.settle(reservation, costMicros);
    const entries = this.take(reservation);
    if (entries === undefined) return;
    if (reservation.lifetime !== undefined) this.lifetime.settle(reservation.lifetime, costMicros);
    for (let i = 0; i < entries.length; i++)
      reservation.ledgers[i]!.settle(entries[i]!, reservation.micros, costMicros);
  }

  release(reservation: SpendReservation): void {
    if (!(reservation instanceof PeriodReservation)) return this.lifetime.release(reservation);
    const entries = this.take(reservation);
    if (entries === undefined) return;
    if (reservation.lifetime !== undefined) this.lifetime.release(reservation.lifetime);
    for (let i = 0; i < entries.length; i++)
      reservation.ledgers[i]!.unreserve(entries[i]!, reservation.micros);
  }

  /** The admin's store went back (restored): every ledger takes each scope's next load. */
  forgetLoadOrder(): void {
    this.lifetime.forgetLoadOrder();
    for (const slot of this.slots) slot?.ledger.forgetLoadOrder();
  }

  /** The usage reporter sealed everything settled so far into usage batch `batchSeq`. */
  seal(batchSeq: number): void {
    this.lifetime.seal(batchSeq);
    for (const slot of this.slots) slot?.ledger.seal(batchSeq);
  }

  /** Lifetime spend, or the current period's for a scope last seen with a budget period. */
  spendOf(scope: Scope, id: string): ScopeSpendView | null {
    const period = this.periodOf.get(`${scope}:${id}`);
    if (period === undefined) return this.lifetime.spendOf(scope, id);
    const entry = this.slot(period, this.clock.now()).ledger.get(scope, id);
    return entry === undefined
      ? { spendMicros: 0, reservedMicros: 0 }
      : { spendMicros: spendMicros(entry), reservedMicros: entry.reservedMicros };
  }

  private take(reservation: PeriodReservation): ScopeSpend[] | undefined {
    if (reservation.owner !== this) return undefined;
    const entries = reservation.entries;
    reservation.entries = undefined;
    return entries;
  }

  /** The current period entries of the scopes budgeted per period (rebased on this load). */
  private periodEntries(
    policy: ResolvedKeyPolicy,
    views: PolicyViews,
    now: number,
    ledgers: SpendLedger[],
  ): ScopeSpend[] {
    const entries: ScopeSpend[] = [];
    for (let i = 0; i < views.periodScopes.length; i++) {
      const slot = this.slot(views.periods[i]!, now);
      let cached = views.periodEntries[i];
      if (cached === undefined || cached.generation !== slot.generation) {
        const scope = views.periodScopes[i]!;
        const state = scopeState(policy, scope);
        // The admin's period spend counts only when it is this period's.
        const spend = state.periodStartMs === slot.startMs ? (state.periodSpendMicros ?? 0) : 0;
        const periodState = { id: state.id, limits: state.limits, spendMicros: spend };
        const entry = slot.ledger.observe(scope, periodState, policy.version, policy.appliedBatchSeq);
        cached = { generation: slot.generation, entry };
        views.periodEntries[i] = cached;
      }
      ledgers.push(slot.ledger);
      entries.push(cached.entry);
    }
    return entries;
  }

  /** The ledger of the period containing `now`; a new (empty) one from its first instant. */
  private slot(period: BudgetPeriod, now: number): PeriodSlot {
    const { startMs } = this.periodClock.bounds(period, now);
    const index = periodIndex(period);
    let slot = this.slots[index];
    if (slot === undefined || slot.startMs !== startMs) {
      slot = { startMs, ledger: new SpendLedger(), generation: ++this.generations };
      this.slots[index] = slot;
    }
    return slot;
  }

  private viewsOf(policy: ResolvedKeyPolicy): PolicyViews | null {
    // No budget period anywhere (the common deployment): nothing to remember for this policy, and
    // no WeakMap entry per cached key (issue 15).
    if (this.periodOf.size === 0 && !hasBudgetPeriod(policy)) return null;
    let views = this.views.get(policy);
    if (views === undefined) {
      views = buildViews(policy, this.periodOf);
      this.views.set(policy, views);
    }
    return views;
  }
}

function hasBudgetPeriod(policy: ResolvedKeyPolicy): boolean {
  const period = (limits: Limits): boolean =>
    limits.budgetPeriod !== null && limits.budgetPeriod !== undefined;
  return period(policy.key.limits) || period(policy.team.limits) || period(policy.org.limits);
}

function buildViews(policy: ResolvedKeyPolicy, periodOf: Map<string, BudgetPeriod>): PolicyViews | null {
  const hasPeriod = (scope: Scope) => {
    const period = policy[scope].limits.budgetPeriod;
    return period !== null && period !== undefined;
  };
  for (const scope of SCOPES) {
    const id = `${scope}:${policy[scope].id}`;
    if (hasPeriod(scope)) periodOf.set(id, policy[scope].limits.budgetPeriod!);
    else periodOf.delete(id);
  }
  if (!BUDGET_PERIODS.some((period) => SCOPES.some((scope) => policy[scope].limits.budgetPeriod === period)))
    return null;
  const lifetime: ResolvedKeyPolicy = { ...policy };
  for (const scope of SCOPES) {
    const state = policy[scope];
    if (hasPeriod(scope)) lifetime[scope] = { ...state, limits: { ...state.limits, maxBudgetMicros: null } };
  }
  const periodScopes = SCOPES.filter(
    (scope) => hasPeriod(scope) && policy[scope].limits.maxBudgetMicros !== null,
  );
  return {
    lifetime,
    lifetimeBudgets: SCOPES.some((scope) => lifetime[scope].limits.maxBudgetMicros !== null),
    periodScopes,
    periods: periodScopes.map((scope) => policy[scope].limits.budgetPeriod!),
    periodEntries: [],
  };
}
