/**
 * What `GET /internal/keys/:hash` returns and what the gateway caches per key hash: everything
 * a decision needs, with no further I/O (DESIGN.md "Gateway hot path", step 3).
 * This is the wire contract between the planes: change it on both sides together.
 */
import type { Limits } from './limits.js';

export interface ScopeState {
  id: string;
  limits: Limits;
  /** Persisted spend in micro-USD, including every usage batch the admin plane has applied. */
  spendMicros: number;
}

export interface ResolvedKeyPolicy {
  keyId: string;
  /** The key's name (logs only; absent from admin planes older than issue 13). */
  keyName?: string;
  /** The hash this policy was loaded for (a key may answer to two during a regenerate grace period). */
  tokenHash: string;
  status: 'active' | 'revoked';
  /** Epoch ms after which the key is refused (key expiry, or the end of a regenerate grace period). */
  expiresAt: number | null;
  key: ScopeState;
  team: ScopeState;
  org: ScopeState;
  /** Names of the callable targets this key may call (key set ∩ team set ∩ org set). */
  effectiveTargets: string[];
  /** change_log seq at the time of the load. */
  version: number;
  /**
   * Highest usage batch sequence of the asking gateway (`?gateway_id=`) already applied to the
   * spend above, so the gateway can add only its own spend that is not yet in it.
   */
  appliedBatchSeq: number;
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
