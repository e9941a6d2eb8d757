/**
 * Which Redis counters a request's budgets use (RedisSpendStore), per scope with a budget:
 * - a lifetime budget: `<prefix>{<org>}:s:<scope>:<id>`, seeded from the persisted lifetime
 *   spend, kept `SPEND_TTL_MS` after its last use;
 * - a budget per period (`budget_period` day/week/month, calendar-aligned in UTC on the injected
 *   clock, src/budget/period.ts): `<prefix>{<org>}:sp:<scope>:<id>:<period start ms>`, seeded from
 *   the persisted period spend only when the admin's `periodStartMs` is that period (else 0),
 *   kept until `PERIOD_TTL_MARGIN_MS` after the period's end. A new period is a new counter, so
 *   every replica starts it at 0 at the boundary on its own clock, with no admin call.
 * Both share the reservations hash `<prefix>{<org>}:rl:<scope>:<id>` (lease name → micro-USD held
 * under it, reservation-leases.ts): a reservation taken just
 * before a boundary still counts in the new period until it ends (conservative), and its cost is
 * settled into the period it was admitted in (the counter it reserved against).
 */
import type { Clock } from '../clock.js';
import { SCOPES, type Scope } from '../policy/limits.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import { PeriodClock, type BudgetPeriod } from './period.js';

/** Spend counters outlive their last use by a day, then are re-seeded from the persisted spend. */
export const SPEND_TTL_MS = 86_400_000;
/** A period's spend counter outlives the period's end by this much (late settlements land in it). */
export const PERIOD_TTL_MARGIN_MS = 3_600_000;

export interface BudgetCounter {
  scope: Scope;
  id: string;
  spendKey: string;
  reservedKey: string;
  maxMicros: number;
  /** The persisted spend the counter is never below. */
  seedMicros: number;
  /** Epoch ms the spend counter expires at (period budgets); null: SPEND_TTL_MS after each use. */
  expiresAtMs: number | null;
}

export class RedisBudgetKeys {
  private readonly periods = new PeriodClock();

  constructor(
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  /** The counters of every scope of `policy` with a budget, in key, team, org order. */
  countersOf(policy: ResolvedKeyPolicy): BudgetCounter[] {
    const counters: BudgetCounter[] = [];
    const org = policy.org.id;
    for (const scope of SCOPES) {
      const state = policy[scope];
      const max = state.limits.maxBudgetMicros;
      if (max === null) continue;
      const period = state.limits.budgetPeriod ?? null;
      const reservedKey = this.key('rl', org, scope, state.id);
      if (period === null) {
        counters.push({
          scope,
          id: state.id,
          spendKey: this.key('s', org, scope, state.id),
          reservedKey,
          maxMicros: max,
          seedMicros: state.spendMicros,
          expiresAtMs: null,
        });
        continue;
      }
      const { startMs, endMs } = this.periods.bounds(period, this.clock.now());
      counters.push({
        scope,
        id: state.id,
        spendKey: this.periodKey(org, scope, state.id, startMs),
        reservedKey,
        maxMicros: max,
        seedMicros: state.periodStartMs === startMs ? (state.periodSpendMicros ?? 0) : 0,
        expiresAtMs: endMs + PERIOD_TTL_MARGIN_MS,
      });
    }
    return counters;
  }

  /** The spend and reservation counters of one scope now (lifetime, or the current period's). */
  viewKeys(org: string, scope: Scope, id: string, period: BudgetPeriod | null): [string, string] {
    const reservedKey = this.key('rl', org, scope, id);
    if (period === null) return [this.key('s', org, scope, id), reservedKey];
    const { startMs } = this.periods.bounds(period, this.clock.now());
    return [this.periodKey(org, scope, id, startMs), reservedKey];
  }

  /** Milliseconds the spend counter should live from now on. */
  ttlMs(expiresAtMs: number | null): number {
    if (expiresAtMs === null) return SPEND_TTL_MS;
    return Math.max(1000, expiresAtMs - this.clock.now());
  }

  private key(kind: 's' | 'rl', org: string, scope: Scope, id: string): string {
    return `${this.prefix}{${org}}:${kind}:${scope}:${id}`;
  }

  private periodKey(org: string, scope: Scope, id: string, startMs: number): string {
    return `${this.prefix}{${org}}:sp:${scope}:${id}:${startMs}`;
  }
}
