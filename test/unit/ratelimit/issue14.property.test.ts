/**
 * Property tests of issue 14's counting code, with an injected clock:
 * - budget periods: whatever the interleaving of admits, settles (up to the estimate), releases,
 *   aborts and clock moves across day/week/month boundaries, the spend settled within any one
 *   period never exceeds max_budget;
 * - parallel caps: 200 concurrent admissions never hold more than max_parallel_requests slots,
 *   and every exit path (settle, release, abort) gives its slot back;
 * - shadow limits: adding shadow windows, budgets and parallel caps to a policy never changes any
 *   admission decision (same ok/code/param in the same sequence).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PeriodSpendStore } from '../../../src/budget/period-spend-store.js';
import { periodStart, type BudgetPeriod } from '../../../src/budget/period.js';
import { ManualClock } from '../../../src/clock.js';
import type { AdmissionOutcome, AdmissionTicket } from '../../../src/policy/admission.js';
import { SHADOW_BITS, type Limits } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { MID_MORNING, TARGET, policy } from './fixtures.js';

const HOUR = 3_600_000;

type Step =
  | { kind: 'admit'; estIn: number; maxOut: number }
  | { kind: 'settle'; pick: number; factor: number }
  | { kind: 'release'; pick: number }
  | { kind: 'abort'; pick: number }
  | { kind: 'advance'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      estIn: fc.integer({ min: 0, max: 200 }),
      maxOut: fc.integer({ min: 0, max: 300 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      pick: fc.nat(),
      factor: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 1, max: 6 * HOUR }), fc.constantFrom(24 * HOUR, 7 * 24 * HOUR)),
    }),
  },
);

describe('budget periods (property)', () => {
  it('the spend settled within one period never exceeds max_budget', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<BudgetPeriod>('day', 'week', 'month'),
        fc.integer({ min: 0, max: 5_000 }),
        fc.array(stepArb, { maxLength: 80 }),
        async (period, max, steps) => {
          const clock = new ManualClock(MID_MORNING);
          const admission = new LimitsAdmission({ clock, spend: new PeriodSpendStore(clock) });
          const p = policy({ key: { maxBudgetMicros: max, budgetPeriod: period } });
          // A request's cost belongs to the period it was admitted in (its reservation's).
          const open: { ticket: AdmissionTicket; estIn: number; maxOut: number; start: number }[] = [];
          const spentPerPeriod = new Map<number, number>();
          const book = (start: number, cost: number) => {
            spentPerPeriod.set(start, (spentPerPeriod.get(start) ?? 0) + cost);
          };
          for (const step of steps) {
            if (step.kind === 'admit') {
              const outcome = await admission.admit({
                policy: p,
                target: TARGET,
                estimatedInputTokens: step.estIn,
                maxOutputTokens: step.maxOut,
              });
              if (outcome.ok)
                open.push({
                  ticket: outcome.ticket,
                  estIn: step.estIn,
                  maxOut: step.maxOut,
                  start: periodStart(period, clock.now()),
                });
              else expect(outcome.param).toBe('key_budget');
            } else if (step.kind === 'advance') {
              clock.advance(step.ms);
            } else if (open.length > 0) {
              const [entry] = open.splice(step.pick % open.length, 1);
              if (step.kind === 'settle') {
                const usage = {
                  inputTokens: Math.floor(Math.max(1, entry!.estIn) * step.factor),
                  outputTokens: Math.floor(entry!.maxOut * step.factor),
                };
                book(entry!.start, (await admission.settle(entry!.ticket, usage)).costMicros);
              } else if (step.kind === 'abort')
                book(entry!.start, (await admission.abort(entry!.ticket)).costMicros);
              else await admission.release(entry!.ticket);
            }
          }
          for (const spent of spentPerPeriod.values()) expect(spent).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('parallel caps (property)', () => {
  it('200 concurrent admissions never hold more than the cap; every exit path frees its slot', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.constantFrom('settle', 'release', 'abort'), { minLength: 200, maxLength: 200 }),
        async (keyCap, teamCap, exits) => {
          const clock = new ManualClock(MID_MORNING);
          const admission = new LimitsAdmission({ clock, spend: new PeriodSpendStore(clock) });
          const keys = [0, 1].map((i) =>
            policy({ keyId: `key_${i}`, key: { maxParallel: keyCap }, team: { maxParallel: teamCap } }),
          );
          const outcomes = await Promise.all(
            Array.from({ length: 200 }, (_, i) =>
              admission.admit({
                policy: keys[i % 2]!,
                target: TARGET,
                estimatedInputTokens: 1,
                maxOutputTokens: 1,
              }),
            ),
          );
          const admitted = outcomes.flatMap((o, i) => (o.ok ? [{ ticket: o.ticket, key: i % 2 }] : []));
          expect(admitted.length).toBe(Math.min(teamCap, 2 * keyCap, 200));
          for (const k of [0, 1])
            expect(admitted.filter((a) => a.key === k).length).toBeLessThanOrEqual(keyCap);
          for (const o of outcomes) if (!o.ok) expect(['key_parallel', 'team_parallel']).toContain(o.param);
          await Promise.all(
            admitted.map((a, i) => {
              const exit = exits[i]!;
              return exit === 'settle'
                ? admission.settle(a.ticket, { inputTokens: 1, outputTokens: 1 })
                : exit === 'abort'
                  ? admission.abort(a.ticket)
                  : admission.release(a.ticket);
            }),
          );
          const usage = await admission.windowUsage(keys[0]!);
          expect(usage.filter((u) => u.param.endsWith('_parallel')).map((u) => u.used)).toEqual([0, 0]);
        },
      ),
      { numRuns: 40 },
    );
  });
});

const limitArb = fc.option(fc.integer({ min: 0, max: 5 }), { nil: null });
const shadowArb = fc.record({
  rpm: limitArb,
  tpm: fc.option(fc.integer({ min: 0, max: 400 }), { nil: null }),
  rpd: limitArb,
  maxBudgetMicros: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: null }),
  maxParallel: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
});

/** `base` with every limit of `shadow` added in shadow mode wherever `base` has none. */
function withShadow(base: Limits, shadow: Partial<Limits>): Limits {
  const out: Limits = { ...base, shadow: 0 };
  const bits: Record<string, number> = {
    rpm: SHADOW_BITS.rpm,
    tpm: SHADOW_BITS.tpm,
    rpd: SHADOW_BITS.rpd,
    maxBudgetMicros: SHADOW_BITS.budget,
    maxParallel: SHADOW_BITS.parallel,
  };
  for (const [field, value] of Object.entries(shadow)) {
    const current = (base as unknown as Record<string, unknown>)[field];
    if (value === null || (current !== null && current !== undefined)) continue;
    (out as unknown as Record<string, unknown>)[field] = value;
    out.shadow! |= bits[field]!;
  }
  return out;
}

describe('shadow limits (property)', () => {
  it('never change an admission decision', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rpm: limitArb,
          maxBudgetMicros: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: null }),
          maxParallel: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
        }),
        shadowArb,
        shadowArb,
        fc.array(stepArb, { maxLength: 60 }),
        async (enforced, keyShadow, teamShadow, steps) => {
          const run = async (p: ResolvedKeyPolicy) => {
            const clock = new ManualClock(MID_MORNING);
            const admission = new LimitsAdmission({ clock, spend: new PeriodSpendStore(clock) });
            const open: { ticket: AdmissionTicket; estIn: number; maxOut: number }[] = [];
            const decisions: string[] = [];
            for (const step of steps) {
              if (step.kind === 'admit') {
                const o: AdmissionOutcome = await admission.admit({
                  policy: p,
                  target: TARGET,
                  estimatedInputTokens: step.estIn,
                  maxOutputTokens: step.maxOut,
                });
                decisions.push(o.ok ? 'ok' : `${o.code}:${o.param}`);
                if (o.ok) open.push({ ticket: o.ticket, estIn: step.estIn, maxOut: step.maxOut });
              } else if (step.kind === 'advance') clock.advance(step.ms);
              else if (open.length > 0) {
                const [entry] = open.splice(step.pick % open.length, 1);
                if (step.kind === 'settle')
                  await admission.settle(entry!.ticket, {
                    inputTokens: Math.floor(entry!.estIn * step.factor),
                    outputTokens: Math.floor(entry!.maxOut * step.factor),
                  });
                else if (step.kind === 'abort') await admission.abort(entry!.ticket);
                else await admission.release(entry!.ticket);
              }
            }
            return decisions;
          };
          const plain = policy({ key: enforced });
          const shadowed: ResolvedKeyPolicy = {
            ...plain,
            key: { ...plain.key, limits: withShadow(plain.key.limits, keyShadow) },
            team: { ...plain.team, limits: withShadow(plain.team.limits, teamShadow) },
          };
          expect(await run(shadowed)).toEqual(await run(plain));
        },
      ),
      { numRuns: 150 },
    );
  });
});
