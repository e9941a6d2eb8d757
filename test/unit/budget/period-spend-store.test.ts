/**
 * PeriodSpendStore keeps, per policy object, the ledger entry of each period-budgeted scope for
 * the ledger it was looked up in (the decision path's cache). These tests pin that the cached
 * entry always belongs to the current period's ledger, at the boundary and when the injected
 * clock is set back and forward again.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { PeriodSpendStore } from '../../../src/budget/period-spend-store.js';
import type { SpendReservation } from '../../../src/budget/spend-store.js';
import { policy } from '../ratelimit/fixtures.js';

const DAY_MS = 86_400_000;
const MONDAY = Date.UTC(2026, 2, 9);

function reserve(store: PeriodSpendStore, keyPolicy: ReturnType<typeof policy>, micros: number) {
  const result = store.reserve(keyPolicy, micros);
  return result.ok ? result.reservation : undefined;
}

describe('PeriodSpendStore, one policy object across periods', () => {
  it('crossing the day boundary starts the period from zero; the day before is never counted again', () => {
    const clock = new ManualClock(MONDAY + DAY_MS - 1);
    const store = new PeriodSpendStore(clock);
    const daily = policy({ key: { maxBudgetMicros: 1_000, budgetPeriod: 'day' } });

    store.settle(reserve(store, daily, 600)!, 600);
    expect(reserve(store, daily, 600)).toBeUndefined();
    expect(store.spendOf('key', 'key_a')).toEqual({ spendMicros: 600, reservedMicros: 0 });

    clock.set(MONDAY + DAY_MS); // the boundary belongs to the new day
    expect(store.spendOf('key', 'key_a')).toEqual({ spendMicros: 0, reservedMicros: 0 });
    const next = reserve(store, daily, 600);
    expect(next).toBeDefined();
    expect(store.spendOf('key', 'key_a')).toEqual({ spendMicros: 0, reservedMicros: 600 });
    store.settle(next!, 600);
    expect(reserve(store, daily, 600)).toBeUndefined();
    expect(store.spendOf('key', 'key_a')).toEqual({ spendMicros: 600, reservedMicros: 0 });
  });

  it('a clock set back and forward again reserves in the ledger of the period it is in now', () => {
    const clock = new ManualClock(MONDAY + DAY_MS + 1);
    const store = new PeriodSpendStore(clock);
    const daily = policy({ team: { maxBudgetMicros: 1_000, budgetPeriod: 'day' } });
    store.settle(reserve(store, daily, 900)!, 900);

    // Back to the day before, where another key of the team is used: a new ledger for that day,
    // which `daily` never looks at.
    clock.set(MONDAY + 1);
    const colleague = policy({ keyId: 'key_b', team: { maxBudgetMicros: 1_000, budgetPeriod: 'day' } });
    store.release(reserve(store, colleague, 900)!);

    clock.set(MONDAY + DAY_MS + 2); // forward again: yet another ledger, whose entry starts at 0
    const reservations: SpendReservation[] = [reserve(store, daily, 900)!];
    expect(reservations[0]).toBeDefined();
    expect(store.spendOf('team', 'team_1')).toEqual({ spendMicros: 0, reservedMicros: 900 });
    expect(reserve(store, daily, 200)).toBeUndefined();
    store.settle(reservations[0]!, 500);
    expect(store.spendOf('team', 'team_1')).toEqual({ spendMicros: 500, reservedMicros: 0 });
  });

  it('a week budget and a month budget of one policy each follow their own boundary', () => {
    const sunday = MONDAY + 6 * DAY_MS + DAY_MS - 1; // Sunday 23:59:59.999, still March
    const clock = new ManualClock(sunday);
    const store = new PeriodSpendStore(clock);
    const both = policy({
      key: { maxBudgetMicros: 1_000, budgetPeriod: 'week' },
      org: { maxBudgetMicros: 1_500, budgetPeriod: 'month' },
    });
    store.settle(reserve(store, both, 800)!, 800);

    clock.set(sunday + 1); // Monday: a new week, the same month
    expect(store.spendOf('key', 'key_a')).toEqual({ spendMicros: 0, reservedMicros: 0 });
    expect(store.spendOf('org', 'org_1')).toEqual({ spendMicros: 800, reservedMicros: 0 });
    expect(reserve(store, both, 800)).toBeUndefined(); // the month's 800 + 800 > 1,500
    const fits = reserve(store, both, 700);
    expect(fits).toBeDefined();
    expect(store.spendOf('key', 'key_a')).toEqual({ spendMicros: 0, reservedMicros: 700 });
    expect(store.spendOf('org', 'org_1')).toEqual({ spendMicros: 800, reservedMicros: 700 });
  });
});
