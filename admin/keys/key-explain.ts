/**
 * "Why was this refused" (issue 14 item 7): every check of the gateway's hot path for one key and
 * model, in the gateway's order, with its verdict and numbers: status, expiry, target exists,
 * allowed (through which binding: org/team/key mode, direct target or access group), then each
 * window, budget and parallel cap of key, team and org with limit, used/spent, remaining, reset
 * and mode (a shadow limit never refuses). Limits are the effective ones now (a running override
 * included). Live counters come from the gateways (`GET /internal/explain` on each, see
 * gateway-counters.ts): windows report the highest count any gateway holds (the gateway where a
 * request would be refused), budgets the admin's persisted spend or a gateway's newer view,
 * whichever is higher, plus every gateway's in-flight reservations. `param` is the one the
 * gateway's 403/429 body carries.
 */
import { periodBounds } from '../../src/budget/period.js';
import { microsToUsd } from '../../src/money.js';
import { groupMemberIds } from '../../src/policy/effective-access.js';
import { SCOPES, SHADOW_BITS, type Scope } from '../../src/policy/limits.js';
import { effectivePolicy } from '../../src/policy/override.js';
import type { ResolvedKeyPolicy } from '../../src/policy/resolved-policy.js';
import type { Database } from '../../src/storage/database.js';
import { loadAccessGroups, loadAccessTargets, loadScopeAccess } from '../../src/storage/access-repository.js';
import { findRow } from '../../src/storage/rows.js';
import { findTargetIdByName } from '../../src/storage/target-repository.js';
import { WINDOWS, windowParam } from '../../src/ratelimit/windows.js';
import type { GatewayAnswer } from './gateway-counters.js';

type Verdict = 'pass' | 'fail' | 'shadow_fail';
type Check = { check: string; verdict: Verdict } & Record<string, unknown>;

function binding(db: Database, scope: Scope, id: string, targetId: string | undefined) {
  const access = loadScopeAccess(db, scope, id);
  if (access.mode !== 'restrict') return { scope, id, mode: access.mode, allows: true, via: access.mode };
  if (targetId === undefined) return { scope, id, mode: access.mode, allows: false, via: null };
  if (access.targetIds.includes(targetId))
    return { scope, id, mode: access.mode, allows: true, via: 'target' };
  const targets = loadAccessTargets(db);
  const groups = [...loadAccessGroups(db, access.groupIds).values()].filter((group) =>
    groupMemberIds(group, targets).has(targetId),
  );
  const names = groups.map((group) => findRow<{ name: string }>(db, 'access_groups', group.id)!.name);
  return {
    scope,
    id,
    mode: access.mode,
    allows: groups.length > 0,
    via: groups.length > 0 ? 'access_group' : null,
    access_groups: names,
  };
}

const isShadow = (policy: ResolvedKeyPolicy, scope: Scope, bit: number) =>
  ((policy[scope].limits.shadow ?? 0) & bit) !== 0;

function limitVerdict(over: boolean, shadow: boolean): Verdict {
  return !over ? 'pass' : shadow ? 'shadow_fail' : 'fail';
}

export function explainKey(
  db: Database,
  resolved: ResolvedKeyPolicy,
  model: string,
  answers: GatewayAnswer[],
  now: number,
) {
  const policy = effectivePolicy(resolved, now);
  const checks: Check[] = [];
  checks.push({
    check: 'status',
    verdict: policy.status === 'active' ? 'pass' : 'fail',
    status: policy.status,
    ...(policy.status === 'active'
      ? {}
      : { code: policy.status === 'blocked' ? 'key_blocked' : 'key_revoked' }),
  });
  const expired = policy.expiresAt !== null && now >= policy.expiresAt;
  checks.push({
    check: 'expiry',
    verdict: expired ? 'fail' : 'pass',
    expires_at: policy.expiresAt === null ? null : new Date(policy.expiresAt).toISOString(),
    ...(expired ? { code: 'key_expired' } : {}),
  });
  const targetId = findTargetIdByName(db, model);
  const target = targetId === undefined ? undefined : { id: targetId };
  checks.push({
    check: 'target_exists',
    verdict: target === undefined ? 'fail' : 'pass',
    ...(target === undefined ? { code: 'model_not_found', param: 'model' } : {}),
  });
  const allowed = policy.effectiveTargets.includes(model);
  checks.push({
    check: 'allowed',
    verdict: allowed ? 'pass' : 'fail',
    bindings: (['org', 'team', 'key'] as const).map((scope) =>
      binding(db, scope, policy[scope].id, target?.id),
    ),
    ...(allowed ? {} : { code: 'model_not_allowed', param: 'model' }),
  });

  const live = answers.flatMap((answer) => (answer.ok ? [answer] : []));
  const windowUsed = (param: string) =>
    live.map((answer) => ({
      gateway: answer.gateway,
      used: answer.counters.windows.find((entry) => entry.param === param)?.used ?? 0,
    }));
  for (const scope of SCOPES) {
    const limits = policy[scope].limits;
    const budget = limits.maxBudgetMicros;
    if (budget !== null) {
      const period = limits.budgetPeriod ?? null;
      const bounds = period === null ? null : periodBounds(period, now);
      const persisted =
        period === null
          ? policy[scope].spendMicros
          : policy[scope].periodStartMs === bounds!.startMs
            ? (policy[scope].periodSpendMicros ?? 0)
            : 0;
      const views = live.map((answer) => answer.counters.budgets.find((entry) => entry.scope === scope));
      const spent = Math.max(persisted, ...views.map((view) => view?.spend_micros ?? 0));
      // Per-gateway reservations add up; shared ones (Redis mode) are counted once.
      const reservedOf = (shared: boolean) =>
        live
          .filter((answer) => (answer.counters.shared === true) === shared)
          .map(
            (answer) => answer.counters.budgets.find((entry) => entry.scope === scope)?.reserved_micros ?? 0,
          );
      const reserved =
        reservedOf(false).reduce((sum, micros) => sum + micros, 0) + Math.max(0, ...reservedOf(true));
      const shadow = isShadow(policy, scope, SHADOW_BITS.budget);
      checks.push({
        check: 'budget',
        param: `${scope}_budget`,
        mode: shadow ? 'shadow' : 'enforce',
        verdict: limitVerdict(spent + reserved >= budget, shadow),
        limit: microsToUsd(budget),
        spent: microsToUsd(spent),
        reserved: microsToUsd(reserved),
        remaining: microsToUsd(Math.max(0, budget - spent - reserved)),
        period,
        period_resets_at: bounds === null ? null : new Date(bounds.endMs).toISOString(),
      });
    }
  }
  for (const scope of SCOPES) {
    const limits = policy[scope].limits;
    for (const window of WINDOWS) {
      const limit = limits[window.name];
      if (limit === null) continue;
      const param = windowParam(scope, window.name);
      const perGateway = windowUsed(param);
      const used = Math.max(0, ...perGateway.map((entry) => entry.used));
      const shadow = isShadow(policy, scope, SHADOW_BITS[window.name]);
      const resetAt = (Math.floor(now / window.lengthMs) + 1) * window.lengthMs;
      checks.push({
        check: 'window',
        param,
        mode: shadow ? 'shadow' : 'enforce',
        verdict: limitVerdict(used >= limit, shadow),
        limit,
        used,
        remaining: Math.max(0, limit - used),
        reset_at: new Date(resetAt).toISOString(),
        per_gateway: perGateway,
      });
    }
  }
  for (const scope of SCOPES) {
    const limit = policy[scope].limits.maxParallel;
    if (limit === null || limit === undefined) continue;
    const param = `${scope}_parallel`;
    const perGateway = windowUsed(param);
    const inFlight = Math.max(0, ...perGateway.map((entry) => entry.used));
    const shadow = isShadow(policy, scope, SHADOW_BITS.parallel);
    checks.push({
      check: 'parallel',
      param,
      mode: shadow ? 'shadow' : 'enforce',
      verdict: limitVerdict(inFlight >= limit, shadow),
      limit,
      in_flight: inFlight,
      per_gateway: perGateway,
    });
  }
  const failing = checks.find((check) => check.verdict === 'fail');
  return {
    key_id: policy.keyId,
    model,
    verdict: failing === undefined ? 'admit' : 'refuse',
    refused_by:
      failing === undefined
        ? null
        : {
            check: failing.check,
            code: failing.code ?? (failing.check === 'budget' ? 'budget_exceeded' : 'rate_limit_exceeded'),
            param: failing.param ?? null,
          },
    checks,
    override:
      policy === resolved ? null : (resolved.overrides?.find((entry) => now < entry.expiresAt)?.id ?? null),
    gateways: answers.map((answer) => (answer.ok ? { gateway: answer.gateway, ok: true } : answer)),
    at: new Date(now).toISOString(),
  };
}
