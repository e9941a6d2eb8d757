/**
 * Micro-benchmark of the limits decision path (issues 4 and 14): one admission + its settle in
 * the three set-ups of bench/decision-scenarios.ts (no limits; all 15 windows + 3 budgets; those
 * + budget periods, parallel caps and one shadow limit), in the same process and run, rounds
 * interleaved. For a load-independent figure, count instructions with bench/decision-count.ts.
 * Run: node --import tsx bench/decision-bench.ts [iterations per round]
 */
import os from 'node:os';
import {
  DECISION_SCENARIOS,
  KEYS,
  decisionRound,
  decisionScenario,
  probeDecisionScenario,
} from './decision-scenarios.js';

const ITERATIONS = Number(process.argv[2] ?? 200_000);
const ROUNDS = 7;

const scenarios = {
  none: decisionScenario('none'),
  all: decisionScenario('all'),
  full: decisionScenario('full'),
};
for (const name of DECISION_SCENARIOS) await probeDecisionScenario(name, scenarios[name]);

// Warm-up.
for (const name of DECISION_SCENARIOS) await decisionRound(scenarios[name], ITERATIONS / 4);

const results = { none: [] as number[], all: [] as number[], full: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  for (const name of DECISION_SCENARIOS) results[name].push(await decisionRound(scenarios[name], ITERATIONS));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const noneNs = median(results.none);
const allNs = median(results.all);
const fullNs = median(results.full);
console.log(
  JSON.stringify(
    {
      node: process.version,
      cpu: os.cpus()[0]?.model,
      loadavg: os.loadavg().map((value) => Number(value.toFixed(2))),
      iterationsPerRound: ITERATIONS,
      rounds: ROUNDS,
      keys: KEYS,
      decision: 'admit + settle',
      noLimitsNsPerOp: Math.round(noneNs),
      allLimitsNsPerOp: Math.round(allNs),
      ratio: Number((allNs / noneNs).toFixed(2)),
      // Issue 14: + budget periods (month/day) + parallel caps + one shadow limit.
      allPlusPeriodsParallelShadowNsPerOp: Math.round(fullNs),
    },
    null,
    2,
  ),
);
