/**
 * Micro-benchmark of the limits decision path (issue 4): one admission + its settle, with all
 * 15 windows (rpm/rph/rpd/tpm/tpd × key/team/org) and 3 budgets configured, against the same
 * path with no limit configured, in the same process and run, rounds interleaved.
 * Run: node --import tsx bench/decision-bench.ts [iterations per round]
 */
import os from 'node:os';
import type { AdmissionRequest } from '../src/policy/admission.js';
import { NO_LIMITS, type Limits } from '../src/policy/limits.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../src/ratelimit/limits-admission.js';
import { PeriodSpendStore } from '../src/budget/period-spend-store.js';
import { systemClock } from '../src/clock.js';
import { SHADOW_BITS } from '../src/policy/limits.js';

const ITERATIONS = Number(process.argv[2] ?? 200_000);
const ROUNDS = 7;
const KEYS = 1_000;

const HUGE: Limits = {
  maxBudgetMicros: Number.MAX_SAFE_INTEGER,
  rpm: 1e12,
  tpm: 1e15,
  rph: 1e12,
  rpd: 1e12,
  tpd: 1e15,
};

const target: TargetRoute = {
  name: 'gpt-bench',
  baseUrl: 'http://127.0.0.1:1',
  upstreamModel: null,
  apiKeyEnv: null,
  inputMicrosPerMtok: 150_000,
  outputMicrosPerMtok: 600_000,
};

/** Issue 14: budgets per calendar period, parallel caps, and one shadow limit (org rpm). */
const PERIODIC: Limits = { ...HUGE, budgetPeriod: 'month', maxParallel: 1e9 };
const PERIODIC_TEAM: Limits = { ...HUGE, budgetPeriod: 'day', maxParallel: 1e9 };
const SHADOW_ORG: Limits = { ...HUGE, rpm: 1, shadow: SHADOW_BITS.rpm };

function policies(limits: Limits, team = limits, org = limits): ResolvedKeyPolicy[] {
  return Array.from({ length: KEYS }, (_, i) => ({
    keyId: `key_${i}`,
    tokenHash: `hash_${i}`,
    status: 'active' as const,
    expiresAt: null,
    key: { id: `key_${i}`, limits, spendMicros: 0 },
    team: { id: `team_${i % 10}`, limits: team, spendMicros: 0 },
    org: { id: 'org_1', limits: org, spendMicros: 0 },
    effectiveTargets: [target.name],
    version: 1,
    appliedBatchSeq: 0,
  }));
}

async function round(
  admission: LimitsAdmission,
  requests: AdmissionRequest[],
  iterations: number,
): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const outcome = await admission.admit(requests[i % requests.length]!);
    if (!outcome.ok) throw new Error(`unexpected refusal ${outcome.param}`);
    await admission.settle(outcome.ticket, { inputTokens: 250, outputTokens: 120 });
  }
  return Number(process.hrtime.bigint() - started) / iterations;
}

const scenarios = {
  none: { admission: new LimitsAdmission(), requests: policies(NO_LIMITS) },
  all: { admission: new LimitsAdmission(), requests: policies(HUGE) },
  full: {
    admission: new LimitsAdmission({ spend: new PeriodSpendStore(systemClock) }),
    requests: policies(PERIODIC, PERIODIC_TEAM, SHADOW_ORG),
  },
};
const requestsOf = (list: ResolvedKeyPolicy[]): AdmissionRequest[] =>
  list.map((policy) => ({ policy, target, estimatedInputTokens: 250, maxOutputTokens: 512 }));
const none = requestsOf(scenarios.none.requests);
const all = requestsOf(scenarios.all.requests);
const full = requestsOf(scenarios.full.requests);

// Check the scenario answers as intended before measuring: 15 windows counted, headers present.
const probe = await scenarios.all.admission.admit(all[0]!);
if (!probe.ok || probe.headers.limitRequests === null || probe.headers.limitTokens === null)
  throw new Error('bad probe');
if ((await scenarios.all.admission.windowUsage(all[0]!.policy)).length !== 15)
  throw new Error('expected 15 windows');
await scenarios.all.admission.release(probe.ticket);

const fullProbe = await scenarios.full.admission.admit(full[0]!);
if (!fullProbe.ok || (await scenarios.full.admission.windowUsage(full[0]!.policy)).length !== 17)
  throw new Error('expected 15 windows + 2 parallel caps admitted');
await scenarios.full.admission.release(fullProbe.ticket);

// Warm-up.
await round(scenarios.none.admission, none, ITERATIONS / 4);
await round(scenarios.all.admission, all, ITERATIONS / 4);
await round(scenarios.full.admission, full, ITERATIONS / 4);

const results = { none: [] as number[], all: [] as number[], full: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  results.none.push(await round(scenarios.none.admission, none, ITERATIONS));
  results.all.push(await round(scenarios.all.admission, all, ITERATIONS));
  results.full.push(await round(scenarios.full.admission, full, ITERATIONS));
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
