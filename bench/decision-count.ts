/**
 * One decision set-up of bench/decision-scenarios.ts alone, for counting instructions (wall time
 * on a shared machine is noise; instruction counts are not). Runs a warm-up of `iterations`
 * decisions and then `iterations` more, so two runs differing only in `iterations` differ by
 * exactly 2 × that difference in decisions, and startup, compilation and JIT tiers cancel out:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p node --import tsx \
 *     bench/decision-count.ts full 20000      (then 60000; see bench/README.md "decision")
 *   instructions per decision = (Ir(60000) − Ir(20000)) / 80000
 *
 * Run: node --import tsx bench/decision-count.ts none|all|full [iterations]
 */
import {
  DECISION_SCENARIOS,
  decisionRound,
  decisionScenario,
  probeDecisionScenario,
  type DecisionScenarioName,
} from './decision-scenarios.js';

const name = process.argv[2] as DecisionScenarioName;
if (!DECISION_SCENARIOS.includes(name))
  throw new Error(`usage: decision-count.ts ${DECISION_SCENARIOS.join('|')} [iterations]`);
const iterations = Number(process.argv[3] ?? 20_000);

const scenario = decisionScenario(name);
await probeDecisionScenario(name, scenario);
await decisionRound(scenario, iterations);
const ns = await decisionRound(scenario, iterations);
console.log(JSON.stringify({ scenario: name, iterations, nsPerOp: Math.round(ns) }));
