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
 * The clock reads the system clock on every call, as in the timed bench, but runs 1,000 times
 * slower from the start of the current minute: under callgrind (about 50 times slower than
 * native) a run would otherwise cross minute boundaries at random points, and each rollover
 * replaces the window-key maps that optimized code embeds, deoptimizing it for a while (noise of
 * thousands of instructions per decision). At native speed a rollover costs that once a minute.
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
import type { Clock } from '../src/clock.js';

const name = process.argv[2] as DecisionScenarioName;
if (!DECISION_SCENARIOS.includes(name))
  throw new Error(`usage: decision-count.ts ${DECISION_SCENARIOS.join('|')} [iterations]`);
const iterations = Number(process.argv[3] ?? 20_000);

const startMs = Date.now();
const minuteStartMs = startMs - (startMs % 60_000);
const dilated: Clock = { now: () => minuteStartMs + Math.floor((Date.now() - startMs) / 1_000) };
const scenario = decisionScenario(name, dilated);
await probeDecisionScenario(name, scenario);
await decisionRound(scenario, iterations);
const ns = await decisionRound(scenario, iterations);
console.log(JSON.stringify({ scenario: name, iterations, nsPerOp: Math.round(ns) }));
