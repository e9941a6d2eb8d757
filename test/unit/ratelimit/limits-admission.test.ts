import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { AdmissionOutcome, AdmissionTicket } from '../../../src/policy/admission.js';
import { SCOPES, type Scope } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { CounterStoreError, type CounterStore } from '../../../src/ratelimit/counter-store.js';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { MemoryCounterStore } from '../../../src/ratelimit/memory-counter-store.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, type WindowName } from '../../../src/ratelimit/windows.js';
import { MID_MORNING, TARGET, policy, type PolicyParts } from './fixtures.js';

function setup(start = MID_MORNING) {
  const clock = new ManualClock(start);
  const spend = new MemorySpendStore();
  const admission = new LimitsAdmission({ clock, spend });
  return { clock, admission, spend };
}

function admit(
  admission: LimitsAdmission,
  p: ResolvedKeyPolicy,
  estimatedInputTokens = 10,
  maxOutputTokens = 10,
) {
  return admission.admit({ policy: p, target: TARGET, estimatedInputTokens, maxOutputTokens });
}

function ticketOf(outcome: AdmissionOutcome): AdmissionTicket {
  if (!outcome.ok) throw new Error(`expected an admission, got ${outcome.code} ${outcome.param}`);
  return outcome.ticket;
}

async function used(admission: LimitsAdmission, p: ResolvedKeyPolicy): Promise<Record<string, number>> {
  const usage = await admission.windowUsage(p);
  return Object.fromEntries(usage.map((window) => [window.param, window.used]));
}

const RESET_FROM_MID_MORNING: Record<WindowName, number> = {
  rpm: 45_000,
  tpm: 45_000,
  rph: 29 * MINUTE_MS + 45_000,
  rpd: 13 * HOUR_MS + 29 * MINUTE_MS + 45_000,
  tpd: 13 * HOUR_MS + 29 * MINUTE_MS + 45_000,
};

describe('each of the 15 scope × window pairs', () => {
  const pairs = SCOPES.flatMap((scope) =>
    (['rpm', 'rph', 'rpd', 'tpm', 'tpd'] as const).map((window) => [scope, window] as const),
  );

  it.each(pairs)(
    '%s %s: the N+1-th request is refused with its param and the reset of that window',
    async (scope, window) => {
      const { admission } = setup();
      const tokenWindow = window === 'tpm' || window === 'tpd';
      // Request windows allow 3 requests; token windows allow 3 requests of 100 tokens each.
      const limit = tokenWindow ? 300 : 3;
      const p = policy({ [scope]: { [window]: limit } } as PolicyParts);
      for (let i = 0; i < 3; i++) {
        const outcome = await admit(admission, p, 40, 60);
        const ticket = ticketOf(outcome);
        await admission.settle(ticket, { inputTokens: 40, outputTokens: 60 });
      }
      const refused = await admit(admission, p, 40, 60);
      expect(refused).toMatchObject({
        ok: false,
        code: 'rate_limit_exceeded',
        param: `${scope}_${window}`,
        retryAfterMs: RESET_FROM_MID_MORNING[window],
      });
      expect(await used(admission, p)).toEqual({ [`${scope}_${window}`]: limit });
    },
  );
});

describe('all-or-nothing admission', () => {
  it('a request refused by the hour window is charged to no other window (minute remaining unchanged)', async () => {
    const { admission } = setup();
    const p = policy({
      key: { rpm: 10, rph: 3, tpm: 1000 },
      team: { rpm: 10, tpd: 10_000 },
      org: { rpd: 100 },
    });
    for (let i = 0; i < 3; i++) ticketOf(await admit(admission, p));
    const before = await used(admission, p);
    const refused = await admit(admission, p);
    expect(refused).toMatchObject({ ok: false, param: 'key_rph' });
    expect(await used(admission, p)).toEqual(before);
    expect(before).toMatchObject({ key_rpm: 3, team_rpm: 3, org_rpd: 3, key_tpm: 60, team_tpd: 60 });
    if (!refused.ok) expect(refused.headers.remainingRequests).toBe(0);
  });

  it('a request refused by an org window leaves key and team windows and budget reservations untouched', async () => {
    const { admission, spend } = setup();
    const p = policy({ key: { rpm: 10, maxBudgetMicros: 1_000_000 }, team: { tpm: 500 }, org: { rpm: 1 } });
    ticketOf(await admit(admission, p));
    const spendBefore = spend.spendOf('key', 'key_a');
    const refused = await admit(admission, p);
    expect(refused).toMatchObject({ ok: false, param: 'org_rpm' });
    expect(await used(admission, p)).toEqual({ key_rpm: 1, team_tpm: 20, org_rpm: 1 });
    expect(spend.spendOf('key', 'key_a')).toEqual(spendBefore);
  });

  it('when several windows refuse, the reported one is the one resetting last', async () => {
    const { admission } = setup();
    const p = policy({ key: { rpm: 1 }, team: { rpd: 1 } });
    ticketOf(await admit(admission, p));
    expect(await admit(admission, p)).toMatchObject({
      param: 'team_rpd',
      retryAfterMs: RESET_FROM_MID_MORNING.rpd,
    });
  });

  it('200 concurrent admits against rpm 50 admit exactly 50', async () => {
    const { admission } = setup();
    const p = policy({ key: { rpm: 50 } });
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => admit(admission, p)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(50);
    expect(outcomes.filter((o) => !o.ok && o.param === 'key_rpm')).toHaveLength(150);
    expect(await used(admission, p)).toEqual({ key_rpm: 50 });
  });

  it('a team limit is shared by two keys of the team', async () => {
    const { admission } = setup();
    const a = policy({ keyId: 'key_a', team: { rpm: 3 } });
    const b = policy({ keyId: 'key_b', team: { rpm: 3 } });
    ticketOf(await admit(admission, a));
    ticketOf(await admit(admission, a));
    ticketOf(await admit(admission, b));
    expect(await admit(admission, b)).toMatchObject({ ok: false, param: 'team_rpm' });
    expect(await admit(admission, a)).toMatchObject({ ok: false, param: 'team_rpm' });
    // A key of another team is not affected.
    const other = policy({ keyId: 'key_c', teamId: 'team_2', team: { rpm: 3 } });
    expect((await admit(admission, other)).ok).toBe(true);
  });
});

describe('window boundaries', () => {
  it('a window resets at the next UTC minute boundary, not a minute after the first request', async () => {
    const { clock, admission } = setup();
    const p = policy({ key: { rpm: 2 } });
    ticketOf(await admit(admission, p));
    ticketOf(await admit(admission, p));
    const refused = await admit(admission, p);
    expect(refused).toMatchObject({ ok: false, retryAfterMs: 45_000 });
    clock.advance(44_999);
    expect(await admit(admission, p)).toMatchObject({ ok: false, retryAfterMs: 1 });
    clock.advance(1);
    const admitted = await admit(admission, p);
    expect(admitted.ok).toBe(true);
    if (admitted.ok)
      expect(admitted.headers).toMatchObject({ remainingRequests: 1, resetRequestsMs: MINUTE_MS });
  });

  it('hour and day windows reset at the top of the clock hour and at 00:00 UTC', async () => {
    const { clock, admission } = setup();
    const p = policy({ key: { rph: 1, rpd: 2 } });
    ticketOf(await admit(admission, p));
    expect(await admit(admission, p)).toMatchObject({
      param: 'key_rph',
      retryAfterMs: RESET_FROM_MID_MORNING.rph,
    });
    clock.advance(RESET_FROM_MID_MORNING.rph);
    ticketOf(await admit(admission, p));
    expect(await admit(admission, p)).toMatchObject({ param: 'key_rpd', retryAfterMs: 13 * HOUR_MS });
    clock.set(Date.UTC(2026, 2, 11));
    expect((await admit(admission, p)).ok).toBe(true);
    expect(clock.now() % DAY_MS).toBe(0);
  });

  it('a settle after the window ended does not charge the new window', async () => {
    const { clock, admission } = setup();
    const p = policy({ key: { tpm: 1000 } });
    const ticket = ticketOf(await admit(admission, p, 100, 100));
    clock.advance(45_000);
    await admission.settle(ticket, { inputTokens: 100, outputTokens: 700 });
    expect(await used(admission, p)).toEqual({ key_tpm: 0 });
  });
});

describe('limit changes', () => {
  it('a lowered limit applies to the next request and keeps what the window already counted', async () => {
    const { admission } = setup();
    for (let i = 0; i < 3; i++) ticketOf(await admit(admission, policy({ key: { rpm: 5 } })));
    const lowered = policy({ key: { rpm: 4 }, version: 2 });
    ticketOf(await admit(admission, lowered));
    expect(await admit(admission, lowered)).toMatchObject({ ok: false, param: 'key_rpm' });
    const raised = policy({ key: { rpm: 6 }, version: 3 });
    expect(await used(admission, raised)).toEqual({ key_rpm: 4 });
    ticketOf(await admit(admission, raised));
    ticketOf(await admit(admission, raised));
    expect(await admit(admission, raised)).toMatchObject({ ok: false, param: 'key_rpm' });
  });

  it('a window configured mid-window starts counting from the next request', async () => {
    const { admission } = setup();
    ticketOf(await admit(admission, policy()));
    const limited = policy({ key: { rpm: 1 } });
    ticketOf(await admit(admission, limited));
    expect(await admit(admission, limited)).toMatchObject({ ok: false, param: 'key_rpm' });
  });
});

describe('token reservation and reconciliation', () => {
  it('the reservation is capped by the smallest token limit so a small-TPM key still works', async () => {
    const { admission } = setup();
    const p = policy({ key: { tpm: 100 }, org: { tpd: 50_000 } });
    const ticket = ticketOf(await admit(admission, p, 50, 4096));
    expect(await used(admission, p)).toEqual({ key_tpm: 100, org_tpd: 100 });
    expect(await admit(admission, p, 50, 4096)).toMatchObject({ ok: false, param: 'key_tpm' });
    await admission.settle(ticket, { inputTokens: 12, outputTokens: 18 });
    expect(await used(admission, p)).toEqual({ key_tpm: 30, org_tpd: 30 });
  });

  it('a tpm_limit of 0 refuses every request, even one estimated at 0 tokens', async () => {
    const { admission } = setup();
    expect(await admit(admission, policy({ key: { tpm: 0 } }), 0, 0)).toMatchObject({
      ok: false,
      param: 'key_tpm',
    });
  });

  it('a full token window refuses a request estimated at 0 tokens (it will read at least one)', async () => {
    const { admission } = setup();
    const p = policy({ key: { tpm: 100 } });
    const ticket = ticketOf(await admit(admission, p, 50, 50));
    expect(await admit(admission, p, 0, 0)).toMatchObject({ ok: false, param: 'key_tpm' });
    await admission.settle(ticket, { inputTokens: 50, outputTokens: 49 });
    ticketOf(await admit(admission, p, 0, 0));
  });

  it('a spent budget refuses a request estimated at 0 tokens', async () => {
    const { admission, spend } = setup();
    const p = policy({ key: { maxBudgetMicros: 500 } });
    const ticket = ticketOf(await admit(admission, p, 100, 100));
    await admission.settle(ticket, { inputTokens: 100, outputTokens: 100 });
    expect(spend.spendOf('key', 'key_a')?.spendMicros).toBe(500);
    expect(await admit(admission, p, 0, 0)).toMatchObject({ ok: false, param: 'key_budget' });
  });

  it('settle replaces the estimate with the real usage, even when the real usage is larger', async () => {
    const { admission } = setup();
    const p = policy({ team: { tpm: 10_000, tpd: 100_000 } });
    const small = ticketOf(await admit(admission, p, 100, 500));
    const large = ticketOf(await admit(admission, p, 100, 500));
    expect(await used(admission, p)).toEqual({ team_tpm: 1200, team_tpd: 1200 });
    await admission.settle(small, { inputTokens: 90, outputTokens: 10 });
    await admission.settle(large, { inputTokens: 130, outputTokens: 900 });
    expect(await used(admission, p)).toEqual({ team_tpm: 1130, team_tpd: 1130 });
  });

  it('release (upstream failure) refunds the request counts, the tokens and the budget reservation', async () => {
    const { admission, spend } = setup();
    const p = policy({ key: { rpm: 1, tpm: 1000, maxBudgetMicros: 10_000 }, org: { rpd: 5 } });
    const ticket = ticketOf(await admit(admission, p, 100, 200));
    expect(spend.spendOf('key', 'key_a')).toEqual({ spendMicros: 0, reservedMicros: 900 });
    await admission.release(ticket);
    expect(await used(admission, p)).toEqual({ key_rpm: 0, key_tpm: 0, org_rpd: 0 });
    expect(spend.spendOf('key', 'key_a')).toEqual({ spendMicros: 0, reservedMicros: 0 });
    expect((await admit(admission, p)).ok).toBe(true);
  });

  it('abort (client gone) keeps the request counted and charges the input estimate only', async () => {
    const { admission, spend } = setup();
    const p = policy({ key: { rpm: 5, tpm: 1000 } });
    const ticket = ticketOf(await admit(admission, p, 100, 200));
    expect(await admission.abort(ticket)).toEqual({ costMicros: 100 });
    expect(await used(admission, p)).toEqual({ key_rpm: 1, key_tpm: 100 });
    expect(spend.spendOf('org', 'org_1')).toEqual({ spendMicros: 100, reservedMicros: 0 });
  });

  it('a ticket ends once: a second settle, release or abort changes nothing', async () => {
    const { admission, spend } = setup();
    const p = policy({ key: { rpm: 5, tpm: 1000 } });
    const ticket = ticketOf(await admit(admission, p, 100, 200));
    expect(await admission.settle(ticket, { inputTokens: 100, outputTokens: 50 })).toEqual({
      costMicros: 300,
    });
    await admission.release(ticket);
    expect(await admission.abort(ticket)).toEqual({ costMicros: 0 });
    expect(await admission.settle(ticket, { inputTokens: 100, outputTokens: 50 })).toEqual({ costMicros: 0 });
    expect(await used(admission, p)).toEqual({ key_rpm: 1, key_tpm: 150 });
    expect(spend.spendOf('key', 'key_a')?.spendMicros).toBe(300);
    expect(admission.inFlight).toBe(0);
  });
});

describe('budgets', () => {
  it.each(['key', 'team', 'org'] as Scope[])(
    'the %s budget refuses with %s_budget when spend + reservations + estimate would pass it, charging no window',
    async (scope) => {
      const { admission } = setup();
      // Each request: 100 input tokens ($1/M) + 200 max output ($4/M) = 900 micro-USD estimated.
      const p = policy({
        [scope]: { maxBudgetMicros: 2_000 },
        key: { rpm: 100, ...(scope === 'key' ? { maxBudgetMicros: 2_000 } : {}) },
      });
      const first = ticketOf(await admit(admission, p, 100, 200));
      ticketOf(await admit(admission, p, 100, 200));
      const refused = await admit(admission, p, 100, 200);
      expect(refused).toMatchObject({
        ok: false,
        code: 'budget_exceeded',
        param: `${scope}_budget`,
        retryAfterMs: null,
      });
      expect(await used(admission, p)).toEqual({ key_rpm: 2 });
      // Settling below the estimate frees room: 900 reserved + 300 spent + 900 new = 2100 > 2000 still…
      await admission.settle(first, { inputTokens: 100, outputTokens: 50 });
      expect((await admit(admission, p, 100, 200)).ok).toBe(false);
      // …but a smaller request fits: 900 + 300 + 500 = 1700.
      expect((await admit(admission, p, 100, 100)).ok).toBe(true);
    },
  );

  it('a $0.01 budget with 100 concurrent requests is never exceeded by the settled spend', async () => {
    const { admission, spend } = setup();
    const p = policy({ key: { maxBudgetMicros: 10_000 } });
    let settledMicros = 0;
    let admitted = 0;
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const client = async () => {
      for (;;) {
        const outcome = await admit(admission, p, 100, 500);
        if (!outcome.ok) {
          expect(outcome.param).toBe('key_budget');
          return;
        }
        admitted++;
        await new Promise((resolve) => setImmediate(resolve));
        const outputTokens = Math.floor(random() * 501);
        settledMicros += (await admission.settle(outcome.ticket, { inputTokens: 100, outputTokens }))
          .costMicros;
      }
    };
    await Promise.all(Array.from({ length: 100 }, client));
    expect(settledMicros).toBeLessThanOrEqual(10_000);
    expect(spend.spendOf('key', 'key_a')).toEqual({ spendMicros: settledMicros, reservedMicros: 0 });
    // Not over-conservative: the last refusal came only when the next estimate (2100) no longer fitted.
    expect(settledMicros).toBeGreaterThan(10_000 - 2_100);
    expect(admitted).toBeGreaterThanOrEqual(4);
  });
});

describe('headers', () => {
  it('report the window with the smallest remaining fraction, for requests and for tokens separately', async () => {
    const { admission } = setup();
    const p = policy({ key: { rpm: 100, tpd: 1_000 }, team: { rpm: 20, tpm: 100_000 } });
    let outcome: AdmissionOutcome | undefined;
    for (let i = 0; i < 10; i++) outcome = await admit(admission, p, 10, 10);
    expect(outcome).toMatchObject({
      ok: true,
      headers: {
        limitRequests: 20,
        remainingRequests: 10,
        resetRequestsMs: 45_000,
        limitTokens: 1_000,
        remainingTokens: 800,
        resetTokensMs: RESET_FROM_MID_MORNING.tpd,
      },
    });
  });

  it('are all null when no window is configured', async () => {
    const { admission } = setup();
    const outcome = await admit(admission, policy());
    expect(outcome).toMatchObject({
      ok: true,
      headers: { limitRequests: null, limitTokens: null, remainingTokens: null },
    });
  });
});

describe('store failures', () => {
  it('a store rejecting with a non-Error surfaces as a CounterStoreError and returns the budget reservation', async () => {
    const memory = new MemoryCounterStore();
    const failing: CounterStore = {
      chargeAll: () => Promise.reject({ msBeforeNext: 0 }),
      adjust: (key, delta, ttl) => memory.adjust(key, delta, ttl),
      endHeld: (charges) => memory.endHeld(charges),
      read: (keys) => memory.read(keys),
    };
    const spend = new MemorySpendStore();
    const admission = new LimitsAdmission({ store: failing, spend, clock: new ManualClock(MID_MORNING) });
    const p = policy({ key: { rpm: 5, maxBudgetMicros: 10_000 } });
    await expect(admit(admission, p)).rejects.toBeInstanceOf(CounterStoreError);
    expect(spend.spendOf('key', 'key_a')).toEqual({ spendMicros: 0, reservedMicros: 0 });
  });
});
