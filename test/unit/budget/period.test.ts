/** Budget periods are calendar-aligned in UTC: days at 00:00, weeks on Monday, months on the 1st. */
import { describe, expect, it } from 'vitest';
import { PeriodClock, currentPeriodSpend, periodBounds } from '../../../src/budget/period.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('periodBounds', () => {
  it('a week starts on Monday 00:00 UTC, whatever the day (Sunday included)', () => {
    for (const day of [2, 3, 8]) {
      const { startMs, endMs } = periodBounds('week', Date.UTC(2026, 2, day, 23, 59));
      expect([iso(startMs), iso(endMs)]).toEqual(['2026-03-02T00:00:00.000Z', '2026-03-09T00:00:00.000Z']);
    }
    expect(iso(periodBounds('week', Date.UTC(2026, 2, 9)).startMs)).toBe('2026-03-09T00:00:00.000Z');
  });

  it('a month starts on the 1st (February and December included); a day at 00:00 UTC', () => {
    const feb = periodBounds('month', Date.UTC(2028, 1, 29, 12));
    expect([iso(feb.startMs), iso(feb.endMs)]).toEqual([
      '2028-02-01T00:00:00.000Z',
      '2028-03-01T00:00:00.000Z',
    ]);
    const dec = periodBounds('month', Date.UTC(2026, 11, 31, 23, 59, 59, 999));
    expect(iso(dec.endMs)).toBe('2027-01-01T00:00:00.000Z');
    const day = periodBounds('day', Date.UTC(2026, 2, 3, 0, 0, 0, 0));
    expect(iso(day.startMs)).toBe('2026-03-03T00:00:00.000Z');
  });

  it('the boundary belongs to the new period; PeriodClock recomputes exactly there', () => {
    const clock = new PeriodClock();
    const midnight = Date.UTC(2026, 3, 1);
    expect(clock.bounds('month', midnight - 1).endMs).toBe(midnight);
    expect(clock.bounds('month', midnight).startMs).toBe(midnight);
  });

  it('stored period spend counts only in its own period', () => {
    const start = Date.UTC(2026, 2, 3);
    expect(currentPeriodSpend('day', start, 500, start + 1)).toBe(500);
    expect(currentPeriodSpend('day', start, 500, start + 86_400_000)).toBe(0);
    expect(currentPeriodSpend(null, null, 700, start)).toBe(700);
  });
});
