/**
 * Shadow budgets in embedded mode (issue 14 item 8): a shadow budget per period is checked
 * against this process's own reservations and settled spend of the period, like an enforced one,
 * and never refuses.
 */
import { describe, expect, it } from 'vitest';
import { PeriodSpendStore } from '../../../src/budget/period-spend-store.js';
import { ManualClock } from '../../../src/clock.js';
import { SHADOW_BITS } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { MID_MORNING, TARGET, policy } from './fixtures.js';

describe('a shadow budget per period', () => {
  it('counts this process’s reservations and settled spend of the period, and never refuses', async () => {
    const clock = new ManualClock(MID_MORNING);
    const admission = new LimitsAdmission({ clock, spend: new PeriodSpendStore(clock) });
    const p = policy({ key: { maxBudgetMicros: 1000, budgetPeriod: 'day', shadow: SHADOW_BITS.budget } });
    // 100 input tokens at $1/M + 150 output tokens at $4/M: 700 micro-USD.
    const request = { policy: p, target: TARGET, estimatedInputTokens: 100, maxOutputTokens: 150 };
    const held = await admission.admit(request);
    expect(held.ok && held.shadowRefused).toBeUndefined();
    const over = await admission.admit(request);
    expect(over).toMatchObject({ ok: true, shadowRefused: ['key_budget'] });
    if (!held.ok || !over.ok) throw new Error('expected admissions');
    await admission.release(over.ticket);
    await admission.settle(held.ticket, { inputTokens: 100, outputTokens: 150 });
    expect(await admission.admit(request)).toMatchObject({ ok: true, shadowRefused: ['key_budget'] });
  });
});
