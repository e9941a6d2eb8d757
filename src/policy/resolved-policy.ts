/**
 * What `GET /internal/keys/:hash` returns and what the gateway caches per key hash: everything
 * a decision needs, with no further I/O (DESIGN.md "Gateway hot path", step 3).
 * This is the wire contract between the planes: change it on both sides together.
 */
import type { Limits, Scope } from './limits.js';

export interface ScopeState {
  id: string;
  limits: Limits;
  /** Persisted spend in micro-USD, including every usage batch the admin plane has applied. */
  spendMicros: number;
  /**
   * Spend of the budget period starting at `periodStartMs` (when the scope has a budget period).
   * The gateway counts it only while that is still the current period, so a reset needs no load.
   */
  periodSpendMicros?: number;
  periodStartMs?: number | null;
}

/** A temporary override of a key's limits (issue 14 item 5), lapsing by itself at `expiresAt`. */
export interface KeyOverride {
  id: string;
  /** The key's limits while the override lasts (replacing the key's own, field by field). */
  limits: Limits;
  expiresAt: number;
}

export interface ResolvedKeyPolicy {
  keyId: string;
  /** The key's name (logs only; absent from admin planes older than issue 13). */
  keyName?: string;
  /** The hash this policy was loaded for (a key may answer to two during a regenerate grace period). */
  tokenHash: string;
  /** `blocked`: the key or its owning user is blocked (issue 14 item 4), refused with key_blocked. */
  status: 'active' | 'revoked' | 'blocked';
  /** Epoch ms after which the key is refused (key expiry, or the end of a regenerate grace period). */
  expiresAt: number | null;
  key: ScopeState;
  team: ScopeState;
  org: ScopeState;
  /** Names of the callable targets this key may call (key set ∩ team set ∩ org set). */
  effectiveTargets: string[];
  /** Unexpired overrides, newest first; the first not expired at the request's time applies. */
  overrides?: KeyOverride[];
  /** The key's tags (usage reports group by them). */
  tags?: string[];
  /** Whether requests may add tags with `x-keygate-tags`. */
  allowRequestTags?: boolean;
  /** change_log seq at the time of the load. */
  version: number;
  /**
   * Highest usage batch sequence of the asking gateway (`?gateway_id=`) already applied to the
   * spend above, so the gateway can add only its own spend that is not yet in it.
   */
  appliedBatchSeq: number;
}

/**
 * `policy[scope]` without the keyed load: the hot path reads it for every scope of every decision,
 * and a load keyed by three names is megamorphic in V8 (a stub-cache probe each time).
 */
export function scopeState(policy: ResolvedKeyPolicy, scope: Scope): ScopeState {
  return scope === 'key' ? policy.key : scope === 'team' ? policy.team : policy.org;
}

/** A callable target as the gateway needs it (`GET /internal/targets`). */
export interface TargetRoute {
  name: string;
  baseUrl: string;
  upstreamModel: string | null;
  apiKeyEnv: string | null;
  inputMicrosPerMtok: number;
  outputMicrosPerMtok: number;
}
