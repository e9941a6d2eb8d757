/**
 * Property tests of the admission logic on the memory stores against the reference model
 * (limits-admission.model.ts); limits-admission-redis.property.test.ts runs the same model on the
 * Redis stores. Two files so that the two halves run on different workers.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { run, scenarioArb } from './limits-admission.model.js';

describe('LimitsAdmission against a reference model', () => {
  it('decides exactly like the model; admitted never exceed a window; refused charge nothing; tokens reconcile to real usage', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(3), (scenario) => run(scenario, false)),
      { numRuns: 300 },
    );
  });

  it('settled spend never exceeds a budget when real usage stays within the estimate and max tokens', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(1), (scenario) => run(scenario, true)),
      { numRuns: 300 },
    );
  });
});
