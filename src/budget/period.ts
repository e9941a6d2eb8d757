/**
 * Budget periods (issue 14 item 2): calendar-aligned in UTC, so every gateway and the admin plane
 * agree on the boundary without talking to each other. A day starts at 00:00 UTC, a week on
 * Monday 00:00 UTC, a month on the 1st at 00:00 UTC. `null` is the lifetime budget.
 *
 * `PeriodClock` caches the current [start, end) per period and recomputes only once `now` has
 * reached the end, so the hot path pays a comparison, not a Date, per request.
 */
export type BudgetPeriod = 'day' | 'week' | 'month';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month'];

const DAY_MS = 86_400_000;

export interface PeriodBounds {
  /** Epoch ms, inclusive. */
  startMs: number;
  /** Epoch ms, exclusive: the reset moment. */
  endMs: number;
}

/** The period containing `nowMs`. */
export function periodBounds(period: BudgetPeriod, nowMs: number): PeriodBounds {
  switch (period) {
    case 'day': {
      const startMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
      return { startMs, endMs: startMs + DAY_MS };
    }
    case 'week': {
      const dayStart = Math.floor(nowMs / DAY_MS) * DAY_MS;
      // getUTCDay: 0 = Sunday; days since Monday.
      const sinceMonday = (new Date(dayStart).getUTCDay() + 6) % 7;
      const startMs = dayStart - sinceMonday * DAY_MS;
      return { startMs, endMs: startMs + 7 * DAY_MS };
    }
    case 'month': {
      const date = new Date(nowMs);
      const startMs = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
      const endMs = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
      return { startMs, endMs };
    }
  }
}

export function periodStart(period: BudgetPeriod, nowMs: number): number {
  return periodBounds(period, nowMs).startMs;
}

export function isBudgetPeriod(value: unknown): value is BudgetPeriod {
  return value === 'day' || value === 'week' || value === 'month';
}

/** Spend of the current period: the stored figure only when it belongs to the period of `nowMs`. */
export function currentPeriodSpend(
  period: BudgetPeriod | null,
  storedStartMs: number | null,
  storedSpendMicros: number,
  nowMs: number,
): number {
  if (period === null) return storedSpendMicros;
  return storedStartMs === periodStart(period, nowMs) ? storedSpendMicros : 0;
}

/** Current period bounds per period, recomputed only at a boundary. */
export class PeriodClock {
  /** Per period, in BUDGET_PERIODS order (an array: a load keyed by period name is megamorphic). */
  private readonly cache: PeriodBounds[] = BUDGET_PERIODS.map(() => ({ startMs: 0, endMs: 0 }));

  bounds(period: BudgetPeriod, nowMs: number): PeriodBounds {
    const index = periodIndex(period);
    let bounds = this.cache[index]!;
    if (nowMs >= bounds.endMs || nowMs < bounds.startMs) {
      bounds = periodBounds(period, nowMs);
      this.cache[index] = bounds;
    }
    return bounds;
  }
}

/** Index of `period` in BUDGET_PERIODS. */
export function periodIndex(period: BudgetPeriod): number {
  return period === 'day' ? 0 : period === 'week' ? 1 : 2;
}
