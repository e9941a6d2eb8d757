/**
 * Shadow budgets (issue 14 item 8): a budget in shadow mode is checked against the same spend
 * view as an enforced one and reported when the request would not fit, but it is reserved against
 * an unreachable maximum, so it can never refuse (nor make a reservation refuse another request).
 * It is still reserved on and settled into like an enforced one, so the view it is checked
 * against holds the in-flight reservations and the spend of this process and, in Redis mode
 * (where only scopes with a budget are tracked), of every replica.
 */
import type { SpendStore } from '../budget/spend-store.js';
import { isPromise } from '../maybe-promise.js';
import { SCOPES, SHADOW_BITS, type Limits } from '../policy/limits.js';
import { scopeState, type ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import { UNREACHABLE } from './charge-plan.js';
import { settled } from './counter-store.js';

export interface ShadowBudgets {
  /** The policy with the shadow budgets made unreachable (what is reserved against). */
  enforced: ResolvedKeyPolicy;
  /** `key_budget`, ... for each shadow budget the request would not fit. */
  refusals(spend: SpendStore, estimateMicros: number): Promise<string[] | undefined>;
}

/** Per policy with a shadow budget, its view (policies without one are told apart without a lookup). */
const VIEWS = new WeakMap<ResolvedKeyPolicy, ShadowBudgets>();

function shadowBudget(limits: Limits): boolean {
  return limits.maxBudgetMicros !== null && ((limits.shadow ?? 0) & SHADOW_BITS.budget) !== 0;
}

/**
 * null when no scope of the policy has a budget in shadow mode: the common case, decided by three
 * field reads and keeping no entry per policy (issue 15: a WeakMap entry per cached key was ~26 bytes).
 */
export function shadowBudgetPolicy(policy: ResolvedKeyPolicy): ShadowBudgets | null {
  if (
    !shadowBudget(policy.key.limits) &&
    !shadowBudget(policy.team.limits) &&
    !shadowBudget(policy.org.limits)
  )
    return null;
  let answer = VIEWS.get(policy);
  if (answer === undefined) {
    answer = build(policy);
    VIEWS.set(policy, answer);
  }
  return answer;
}

function build(policy: ResolvedKeyPolicy): ShadowBudgets {
  const shadowed = SCOPES.filter((scope) => shadowBudget(policy[scope].limits));
  const enforced: ResolvedKeyPolicy = { ...policy };
  for (const scope of shadowed) {
    enforced[scope] = { ...policy[scope], limits: { ...policy[scope].limits, maxBudgetMicros: UNREACHABLE } };
  }
  return {
    enforced,
    async refusals(spend, estimateMicros) {
      let refused: string[] | undefined;
      const observed = spend.observe(policy);
      if (isPromise(observed)) await settled(observed, 'reading the budgets');
      for (const scope of shadowed) {
        const state = scopeState(policy, scope);
        const answer = spend.spendOf(scope, state.id);
        const view = isPromise(answer) ? await settled(answer, 'reading the budgets') : answer;
        const used = view === null ? state.spendMicros : view.spendMicros + view.reservedMicros;
        if (used + estimateMicros > state.limits.maxBudgetMicros!) (refused ??= []).push(`${scope}_budget`);
      }
      return refused;
    },
  };
}
