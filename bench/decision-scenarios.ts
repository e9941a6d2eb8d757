/**
 * The three admission set-ups of the decision micro-benchmark (bench/decision-bench.ts times them
 * against each other; bench/decision-count.ts runs one alone for an instruction count):
 * - `none`: no limit configured;
 * - `all`: all 15 windows (rpm/rph/rpd/tpm/tpd × key/team/org) and 3 lifetime budgets;
 * - `full`: `all` + budget periods (key month, team day), parallel caps on key and team, and one
 *   shadow limit (org rpm 1, so every request goes over it and is reported).
 * Every limit is set far above what a run reaches, so every decision admits.
 */
import type { AdmissionRequest } from '../src/policy/admission.js';
import { NO_LIMITS, SHADOW_BITS, type Limits } from '../src/policy/limits.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../src/ratelimit/limits-admission.js';
import { PeriodSpendStore } from '../src/budget/period-spend-store.js';
import { systemClock, type Clock } from '../src/clock.js';

export const KEYS = 1_000;

export type DecisionScenarioName = 'none' | 'all' | 'full';
export const DECISION_SCENARIOS: readonly DecisionScenarioName[] = ['none', 'all', 'full'];

export interface DecisionScenario {
  admission: LimitsAdmission;
  /** One request per key, used round-robin. */
  requests: AdmissionRequest[];
}

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

function requests(limits: Limits, team = limits, org = limits): AdmissionRequest[] {
  return Array.from({ length: KEYS }, (_, i) => {
    const policy: ResolvedKeyPolicy = {
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
    };
    return { policy, target, estimatedInputTokens: 250, maxOutputTokens: 512 };
  });
}

export function decisionScenario(name: DecisionScenarioName, clock: Clock = systemClock): DecisionScenario {
  switch (name) {
    case 'none':
      return { admission: new LimitsAdmission({ clock }), requests: requests(NO_LIMITS) };
    case 'all':
      return { admission: new LimitsAdmission({ clock }), requests: requests(HUGE) };
    case 'full':
      return {
        admission: new LimitsAdmission({ clock, spend: new PeriodSpendStore(clock) }),
        requests: requests(PERIODIC, PERIODIC_TEAM, SHADOW_ORG),
      };
  }
}

/** Admit and settle `iterations` requests round-robin; ns per decision. Throws on any refusal. */
export async function decisionRound(scenario: DecisionScenario, iterations: number): Promise<number> {
  const { admission, requests: list } = scenario;
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const outcome = await admission.admit(list[i % list.length]!);
    if (!outcome.ok) throw new Error(`unexpected refusal ${outcome.param}`);
    await admission.settle(outcome.ticket, { inputTokens: 250, outputTokens: 120 });
  }
  return Number(process.hrtime.bigint() - started) / iterations;
}

/** Check a scenario answers as intended before measuring it (windows counted, headers present). */
export async function probeDecisionScenario(
  name: DecisionScenarioName,
  scenario: DecisionScenario,
): Promise<void> {
  const request = scenario.requests[0]!;
  const outcome = await scenario.admission.admit(request);
  if (!outcome.ok) throw new Error(`${name}: the probe was refused (${outcome.param})`);
  const usage = await scenario.admission.windowUsage(request.policy);
  const expected = { none: 0, all: 15, full: 17 }[name];
  if (usage.length !== expected)
    throw new Error(`${name}: ${usage.length} windows counted, expected ${expected}`);
  if (name !== 'none' && (outcome.headers.limitRequests === null || outcome.headers.limitTokens === null))
    throw new Error(`${name}: no x-ratelimit figures`);
  const shadow = usage.filter((window) => window.mode === 'shadow').map((window) => window.param);
  if (shadow.join() !== (name === 'full' ? 'org_rpm' : ''))
    throw new Error(`${name}: shadow windows ${shadow.join() || 'none'}`);
  await scenario.admission.release(outcome.ticket);
}
