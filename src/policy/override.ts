/**
 * Temporary overrides (issue 14 item 5) at decision time: the newest override still running at
 * `now` replaces the key's limits. Evaluated on the gateway's injected clock for every request,
 * so an override lapses at its `expires_at` on every gateway without an admin call.
 */
import type { ResolvedKeyPolicy } from './resolved-policy.js';

/** Per policy object, the view with an override applied (one allocation per policy and override). */
const VIEWS = new WeakMap<ResolvedKeyPolicy, { overrideId: string; view: ResolvedKeyPolicy }>();

/** `policy` itself, or a view of it whose key limits are those of the override running at `now`. */
export function effectivePolicy(policy: ResolvedKeyPolicy, now: number): ResolvedKeyPolicy {
  const overrides = policy.overrides;
  if (overrides === undefined || overrides.length === 0) return policy;
  const active = overrides.find((override) => now < override.expiresAt);
  if (active === undefined) return policy;
  const cached = VIEWS.get(policy);
  if (cached !== undefined && cached.overrideId === active.id) return cached.view;
  const view: ResolvedKeyPolicy = { ...policy, key: { ...policy.key, limits: active.limits } };
  VIEWS.set(policy, { overrideId: active.id, view });
  return view;
}
