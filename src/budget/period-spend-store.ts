/**
 * Budget periods at the gateway (issue 14 item 2): a SpendStore that keeps lifetime spend in one
 * MemorySpendStore and the spend of each current calendar period (UTC day, week from Monday,
 * month from the 1st; src/budget/period.ts) in one more per period. A scope with `budgetPeriod`
 * has its budget checked against its period's spend only; the others against lifetime spend.
 *
 * Reset at the boundary without the admin plane: the period stores are chosen on the injected
 * clock, and at the first request of a new period its store starts empty. A load's period spend
 * seeds it only when the admin's `periodStartMs` is that period (else the period's spend is 0).
 * Rebase and sealing work per store exactly as for lifetime spend (spend-ledger.ts), since the
 * admin adds a batch to the period spend of the period of its requests.
 *
 * A reservation spans the lifetime store and the period stores the policy uses, taken in one
 * synchronous section (all or nothing: a refusal by one hands back the others).
 */
import type { Clock } from '../clock.js';
import { SCOPES, type Scope } from '../policy/limits.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import { MemorySpendStore } from './memory-spend-store.js';
import { BUDGET_PERIODS, PeriodClock, type BudgetPeriod } from './period.js';
import type { ScopeSpendView, SpendReservation, SpendReserveResult, SpendStore } from './spend-store.js';

interface PeriodSlot {
  startMs: number;
  store: MemorySpendStore;
}

class PeriodReservation implements SpendReservation {
  constructor(
    readonly owner: PeriodSpendStore,
    readonly micros: number,
    public parts: [MemorySpendStore, SpendReservation][] | undefined,
  ) {}
}

/** The views of one policy: lifetime (period budgets removed) and per period (only its budgets). */
interface PolicyViews {
  lifetime: ResolvedKeyPolicy;
  periods: BudgetPeriod[];
  /** Per period: the view for the period starting at `startMs`. */
  byPeriod: Map<BudgetPeriod, { startMs: number; view: ResolvedKeyPolicy }>;
}

export class PeriodSpendStore implements SpendStore {
  private readonly lifetime = new MemorySpendStore();
  private readonly slots = new Map<BudgetPeriod, PeriodSlot>();
  private readonly periodClock = new PeriodClock();
  private readonly views = new WeakMap<ResolvedKeyPolicy, PolicyViews | null>();
  /** `scope:id` → the budget period it was last seen with (for spendOf). */
  private readonly periodOf = new Map<string, BudgetPeriod>();

  constructor(private readonly clock: Clock) {}

  observe(policy: ResolvedKeyPolicy): void {
    const views = this.viewsOf(policy);
    if (views === null) return this.lifetime.observe(policy);
    const now = this.clock.now();
    this.lifetime.observe(views.lifetime);
    for (const period of views.periods)
      this.slot(period, now).store.observe(this.periodView(policy, views, period, now));
  }

  reserve(policy: ResolvedKeyPolicy, micros: number): SpendReserveResult {
    const views = this.viewsOf(policy);
    if (views === null) return this.lifetime.reserve(policy, micros);
    const now = this.clock.now();
    const parts: [MemorySpendStore, SpendReservation][] = [];
    const first = this.lifetime.reserve(views.lifetime, micros);
    if (!first.ok) return first;
    parts.push([this.lifetime, first.reservation]);
    for (const period of views.periods) {
      const store = this.slot(period, now).store;
      const result = store.reserve(this.periodView(policy, views, period, now), micros);
      if (!result.ok) {
        for (const [owner, reservation] of parts) owner.release(reservation);
        return result;
      }
      parts.push([store, result.reservation]);
    }
    return { ok: true, reservation: new PeriodReservation(this, micros, parts) };
  }

  settle(reservation: SpendReservation, costMicros: number): void {
    if (!(reservation instanceof PeriodReservation)) return this.lifetime.settle(reservation, costMicros);
    for (const [store, part] of this.take(reservation)) store.settle(part, costMicros);
  }

  release(reservation: SpendReservation): void {
    if (!(reservation instanceof PeriodReservation)) return this.lifetime.release(reservation);
    for (const [store, part] of this.take(reservation)) store.release(part);
  }

  /** The usage reporter sealed everything settled so far into usage batch `batchSeq`. */
  seal(batchSeq: number): void {
    this.lifetime.seal(batchSeq);
    for (const slot of this.slots.values()) slot.store.seal(batchSeq);
  }

  /** Lifetime spend, or the current period's for a scope last seen with a budget period. */
  spendOf(scope: Scope, id: string): ScopeSpendView | null {
    const period = this.periodOf.get(`${scope}:${id}`);
    if (period === undefined) return this.lifetime.spendOf(scope, id);
    return (
      this.slot(period, this.clock.now()).store.spendOf(scope, id) ?? { spendMicros: 0, reservedMicros: 0 }
    );
  }

  private take(reservation: PeriodReservation): [MemorySpendStore, SpendReservation][] {
    if (reservation.owner !== this) return [];
    const parts = reservation.parts ?? [];
    reservation.parts = undefined;
    return parts;
  }

  /** The store of the period containing `now`; a new (empty) one from its first instant. */
  private slot(period: BudgetPeriod, now: number): PeriodSlot {
    const { startMs } = this.periodClock.bounds(period, now);
    let slot = this.slots.get(period);
    if (slot === undefined || slot.startMs !== startMs) {
      slot = { startMs, store: new MemorySpendStore() };
      this.slots.set(period, slot);
    }
    return slot;
  }

  private viewsOf(policy: ResolvedKeyPolicy): PolicyViews | null {
    let views = this.views.get(policy);
    if (views === undefined) {
      views = buildViews(policy, this.periodOf);
      this.views.set(policy, views);
    }
    return views;
  }

  private periodView(
    policy: ResolvedKeyPolicy,
    views: PolicyViews,
    period: BudgetPeriod,
    now: number,
  ): ResolvedKeyPolicy {
    const { startMs } = this.periodClock.bounds(period, now);
    const cached = views.byPeriod.get(period);
    if (cached !== undefined && cached.startMs === startMs) return cached.view;
    const view: ResolvedKeyPolicy = { ...policy };
    for (const scope of SCOPES) {
      const state = policy[scope];
      const mine = state.limits.budgetPeriod === period;
      view[scope] = {
        id: state.id,
        limits: mine ? state.limits : { ...state.limits, maxBudgetMicros: null },
        // The admin's period spend counts only when it is this period's.
        spendMicros: mine && state.periodStartMs === startMs ? (state.periodSpendMicros ?? 0) : 0,
      };
    }
    views.byPeriod.set(period, { startMs, view });
    return view;
  }
}

function buildViews(policy: ResolvedKeyPolicy, periodOf: Map<string, BudgetPeriod>): PolicyViews | null {
  const periods = BUDGET_PERIODS.filter((period) =>
    SCOPES.some((scope) => policy[scope].limits.budgetPeriod === period),
  );
  for (const scope of SCOPES) {
    const period = policy[scope].limits.budgetPeriod;
    const id = `${scope}:${policy[scope].id}`;
    if (period === null || period === undefined) periodOf.delete(id);
    else periodOf.set(id, period);
  }
  if (periods.length === 0) return null;
  const lifetime: ResolvedKeyPolicy = { ...policy };
  for (const scope of SCOPES) {
    const state = policy[scope];
    if (state.limits.budgetPeriod !== null && state.limits.budgetPeriod !== undefined) {
      lifetime[scope] = { ...state, limits: { ...state.limits, maxBudgetMicros: null } };
    }
  }
  return { lifetime, periods, byPeriod: new Map() };
}
