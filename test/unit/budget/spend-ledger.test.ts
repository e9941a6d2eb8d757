import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpendLedger, spendMicros } from '../../../src/budget/spend-ledger.js';
import { ManualClock } from '../../../src/clock.js';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { MID_MORNING, TARGET, policy } from '../ratelimit/fixtures.js';

const team = (spendMicros: number) => ({ id: 'team_1', limits: policy().team.limits, spendMicros });

function settled(ledger: SpendLedger, version: number, applied: number, spend: number, micros: number) {
  const entry = ledger.observe('team', team(spend), version, applied);
  ledger.reserve(entry, micros);
  ledger.settle(entry, micros, micros);
  return entry;
}

describe('SpendLedger rebase', () => {
  it('a load drops the local batches it already includes and keeps later and unsealed spend', () => {
    const ledger = new SpendLedger();
    const entry = settled(ledger, 1, 0, 1_000, 100);
    ledger.seal(1);
    settled(ledger, 1, 0, 1_000, 20);
    ledger.seal(2);
    settled(ledger, 1, 0, 1_000, 3);
    expect(spendMicros(entry)).toBe(1_123);
    // The admin plane applied batch 1 only: its 100 is now in the persisted 1_100.
    ledger.observe('team', team(1_100), 1, 1);
    expect(spendMicros(entry)).toBe(1_123);
    // Then batch 2 as well, plus 500 from another gateway.
    ledger.observe('team', team(1_620), 1, 2);
    expect(spendMicros(entry)).toBe(1_623);
  });

  it('an older load seen later through another cached key never moves a shared baseline backwards', () => {
    const ledger = new SpendLedger();
    const entry = settled(ledger, 5, 0, 0, 100);
    ledger.seal(1);
    ledger.observe('team', team(100), 5, 1); // newer load: batch 1 applied
    expect(spendMicros(entry)).toBe(100);
    ledger.observe('team', team(0), 5, 0); // a key cached before batch 1 was applied
    expect(spendMicros(entry)).toBe(100);
    ledger.observe('team', team(100), 4, 1); // an older change-log version
    expect(spendMicros(entry)).toBe(100);
  });

  it('after forgetLoadOrder (the admin store was restored) a load with lower numbers is the new baseline', () => {
    const ledger = new SpendLedger();
    const entry = settled(ledger, 40, 0, 0, 900);
    ledger.seal(7);
    ledger.observe('team', team(900), 40, 7); // the admin applied batch 7
    settled(ledger, 40, 7, 900, 50); // unsealed, not in any load yet
    ledger.observe('team', team(0), 12, 0); // the restored store: older numbering
    expect(spendMicros(entry)).toBe(950);
    ledger.forgetLoadOrder();
    ledger.observe('team', team(0), 12, 0);
    expect(spendMicros(entry)).toBe(50); // the restored spend plus the local spend it lacks
  });

  it('on a tie of version and applied batch the larger baseline wins (other gateways only add spend)', () => {
    const ledger = new SpendLedger();
    const entry = ledger.observe('team', team(700), 3, 2);
    ledger.observe('team', team(500), 3, 2);
    expect(spendMicros(entry)).toBe(700);
    ledger.observe('team', team(900), 3, 2);
    expect(spendMicros(entry)).toBe(900);
  });

  it('a newer version is accepted even when its spend is lower (a spend reset through the admin API)', () => {
    const ledger = new SpendLedger();
    const entry = ledger.observe('team', team(700), 3, 2);
    ledger.observe('team', team(0), 4, 2);
    expect(spendMicros(entry)).toBe(0);
  });

  it('the spend view equals persisted + unreported local spend whatever order loads are observed in (property)', () => {
    type Step =
      | { kind: 'spend'; micros: number }
      | { kind: 'seal' }
      | { kind: 'apply' } // the admin plane applies the oldest sealed batch not applied yet
      | { kind: 'other'; micros: number } // another gateway's batch is applied
      | { kind: 'load' } // a load is taken now…
      | { kind: 'observe'; pick: number }; // …and observed later, possibly out of order
    const step = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('spend' as const),
          micros: fc.integer({ min: 1, max: 1_000 }),
        }),
      },
      { weight: 2, arbitrary: fc.constant({ kind: 'seal' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'apply' as const }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('other' as const),
          micros: fc.integer({ min: 1, max: 1_000 }),
        }),
      },
      { weight: 2, arbitrary: fc.constant({ kind: 'load' as const }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('observe' as const), pick: fc.nat() }) },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(step, { minLength: 5, maxLength: 80, size: 'max' }),
        (initial, steps: Step[]) => {
          const ledger = new SpendLedger();
          let persisted = initial;
          let applied = 0;
          let othersTotal = 0;
          let ownTotal = 0;
          let sealedSeq = 0;
          const batches = new Map<number, number>(); // sealed, not applied
          let unsealed = 0;
          const loads: { spend: number; applied: number }[] = [];
          const entry = ledger.observe('team', team(initial), 1, 0);
          for (const s of steps) {
            switch (s.kind) {
              case 'spend':
                ledger.reserve(entry, s.micros);
                ledger.settle(entry, s.micros, s.micros);
                unsealed += s.micros;
                ownTotal += s.micros;
                break;
              case 'seal':
                if (unsealed === 0) break;
                sealedSeq++;
                ledger.seal(sealedSeq);
                batches.set(sealedSeq, unsealed);
                unsealed = 0;
                break;
              case 'apply': {
                const next = applied + 1;
                const micros = batches.get(next);
                if (micros === undefined) break;
                persisted += micros;
                applied = next;
                batches.delete(next);
                break;
              }
              case 'other':
                persisted += s.micros;
                othersTotal += s.micros;
                break;
              case 'load':
                loads.push({ spend: persisted, applied });
                break;
              case 'observe': {
                const load = loads[s.pick % Math.max(1, loads.length)];
                if (load !== undefined) ledger.observe('team', team(load.spend), 1, load.applied);
                break;
              }
            }
            // Our own spend is never lost nor counted twice; other gateways' spend shows up when loaded.
            const view = spendMicros(entry) - initial - ownTotal;
            expect(view).toBeGreaterThanOrEqual(0);
            expect(view).toBeLessThanOrEqual(othersTotal);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('spend across a gateway restart', () => {
  it('a key loaded again after a restart starts from the persisted spend and its budget holds', async () => {
    const p = policy({ key: { maxBudgetMicros: 5_000 } });
    const beforeSpend = new MemorySpendStore();
    const before = new LimitsAdmission({ clock: new ManualClock(MID_MORNING), spend: beforeSpend });
    const outcome = await before.admit({
      policy: p,
      target: TARGET,
      estimatedInputTokens: 1_000,
      maxOutputTokens: 500,
    });
    if (!outcome.ok) throw new Error('expected an admission');
    const { costMicros } = await before.settle(outcome.ticket, { inputTokens: 1_000, outputTokens: 500 });
    expect(costMicros).toBe(3_000);
    beforeSpend.seal(1);

    // The admin plane applied batch 1; a new process loads the key again.
    const reloaded = policy({
      key: { maxBudgetMicros: 5_000 },
      spend: { key: 3_000, team: 3_000, org: 3_000 },
      appliedBatchSeq: 1,
      version: 2,
    });
    const afterSpend = new MemorySpendStore();
    const after = new LimitsAdmission({ clock: new ManualClock(MID_MORNING), spend: afterSpend });
    afterSpend.observe(reloaded);
    expect(afterSpend.spendOf('key', 'key_a')).toEqual({ spendMicros: 3_000, reservedMicros: 0 });
    expect(
      await after.admit({
        policy: reloaded,
        target: TARGET,
        estimatedInputTokens: 1_000,
        maxOutputTokens: 500,
      }),
    ).toMatchObject({
      ok: false,
      param: 'key_budget',
    });
    expect(
      (
        await after.admit({
          policy: reloaded,
          target: TARGET,
          estimatedInputTokens: 1_000,
          maxOutputTokens: 250,
        })
      ).ok,
    ).toBe(true);
  });
});

describe('SpendLedger key-state memo (issue 15)', () => {
  it('a key state reaches its entry without the map, separately per ledger, invisibly, and still rebases', () => {
    const key = () => ({ id: 'key_1', limits: policy().key.limits, spendMicros: 1_000 });
    const state = key();
    const a = new SpendLedger(true);
    const b = new SpendLedger(true);
    const entryA = a.observe('key', state, 1, 0);
    a.reserve(entryA, 50);
    a.settle(entryA, 50, 50);
    // The same state object seen by another ledger: its own entry, not a's.
    const entryB = b.observe('key', state, 1, 0);
    expect(entryB).not.toBe(entryA);
    expect(spendMicros(entryB)).toBe(1_000);
    expect(a.observe('key', state, 1, 0)).toBe(entryA);
    expect(spendMicros(entryA)).toBe(1_050);
    // A newer load (another state object of the same key) still rebases the same entry, which
    // the older state object then reaches as well.
    const newer = { ...key(), spendMicros: 2_000 };
    expect(a.observe('key', newer, 2, 0)).toBe(entryA);
    expect(spendMicros(a.observe('key', state, 1, 0))).toBe(2_050);
    // Not part of the policy as JSON or for equality.
    expect(JSON.stringify(state)).toBe(JSON.stringify(key()));
    expect(state).toEqual(key());
    expect(Object.keys(state)).toEqual(Object.keys(key()));
  });

  it('frozen states (interned teams and orgs) are left alone', () => {
    const ledger = new SpendLedger(true);
    const frozen = Object.freeze({ id: 'key_2', limits: policy().key.limits, spendMicros: 5 });
    const entry = ledger.observe('key', frozen, 1, 0);
    expect(ledger.observe('key', frozen, 1, 0)).toBe(entry);
    expect(Object.getOwnPropertySymbols(frozen)).toEqual([]);
  });
});
