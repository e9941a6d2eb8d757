/**
 * Issue 10, item 4: no input makes a budget figure non-finite. Whatever token figures arrive
 * (estimates, max_tokens such as 1e308, Infinity, NaN, negatives, fractions, and upstream-reported
 * usage of the same kind) and whatever the prices, every spend and reservation of every scope
 * stays a finite number, and once every ticket has ended the reservations are back to zero.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { costMicros } from '../../../src/budget/cost.js';
import { ManualClock } from '../../../src/clock.js';
import type { AdmissionTicket } from '../../../src/policy/admission.js';
import { SCOPES } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { MID_MORNING, TARGET, policy } from '../ratelimit/fixtures.js';

const anyNumber = fc.oneof(
  fc.double(),
  fc.constantFrom(1e308, -1e308, Infinity, -Infinity, NaN, 0, -0, 0.5, 2 ** 53 + 2),
  fc.integer({ min: 0, max: 1_000_000 }),
);

const command = fc.oneof(
  fc.record({ kind: fc.constant('admit' as const), input: anyNumber, output: anyNumber }),
  fc.record({
    kind: fc.constantFrom('settle' as const, 'release' as const, 'abort' as const),
    index: fc.nat(),
    input: anyNumber,
    output: anyNumber,
  }),
);

describe('budget figures stay finite', () => {
  it('costMicros is a finite non-negative safe integer for every input', () => {
    fc.assert(
      fc.property(anyNumber, anyNumber, anyNumber, anyNumber, (inPrice, outPrice, input, output) => {
        const cost = costMicros(
          { inputMicrosPerMtok: inPrice, outputMicrosPerMtok: outPrice },
          input,
          output,
        );
        expect(Number.isSafeInteger(cost) && cost >= 0).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('no sequence of admits and ends makes a spend or reservation non-finite; ended tickets reserve nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 1, maxLength: 40 }),
        fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: null }),
        async (commands, orgBudget) => {
          const spend = new MemorySpendStore();
          const admission = new LimitsAdmission({ clock: new ManualClock(MID_MORNING), spend });
          const p = policy({ org: { maxBudgetMicros: orgBudget } });
          const open: AdmissionTicket[] = [];
          const check = (): void => {
            for (const scope of SCOPES) {
              const view = spend.spendOf(scope, p[scope].id);
              if (view === null) continue;
              expect(Number.isFinite(view.spendMicros), `${scope} spend ${view.spendMicros}`).toBe(true);
              expect(Number.isFinite(view.reservedMicros), `${scope} reserved ${view.reservedMicros}`).toBe(
                true,
              );
            }
          };
          for (const c of commands) {
            if (c.kind === 'admit') {
              const outcome = await admission.admit({
                policy: p,
                target: TARGET,
                estimatedInputTokens: c.input,
                maxOutputTokens: c.output,
              });
              if (outcome.ok) open.push(outcome.ticket);
            } else if (open.length > 0) {
              const [ticket] = open.splice(c.index % open.length, 1);
              if (c.kind === 'settle')
                await admission.settle(ticket!, { inputTokens: c.input, outputTokens: c.output });
              else if (c.kind === 'release') await admission.release(ticket!);
              else await admission.abort(ticket!);
            }
            check();
          }
          for (const ticket of open) await admission.release(ticket);
          check();
          for (const scope of SCOPES) expect(spend.spendOf(scope, p[scope].id)?.reservedMicros ?? 0).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
