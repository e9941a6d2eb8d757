/** Policies and targets for limits tests: only what a decision reads, with every limit off by default. */
import { NO_LIMITS, type Limits } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../../../src/policy/resolved-policy.js';

export function limits(partial: Partial<Limits> = {}): Limits {
  return { ...NO_LIMITS, ...partial };
}

export interface PolicyParts {
  keyId?: string;
  teamId?: string;
  orgId?: string;
  key?: Partial<Limits>;
  team?: Partial<Limits>;
  org?: Partial<Limits>;
  spend?: { key?: number; team?: number; org?: number };
  version?: number;
  appliedBatchSeq?: number;
}

export function policy(parts: PolicyParts = {}): ResolvedKeyPolicy {
  const keyId = parts.keyId ?? 'key_a';
  return {
    keyId,
    tokenHash: `hash_${keyId}`,
    status: 'active',
    expiresAt: null,
    key: { id: keyId, limits: limits(parts.key), spendMicros: parts.spend?.key ?? 0 },
    team: { id: parts.teamId ?? 'team_1', limits: limits(parts.team), spendMicros: parts.spend?.team ?? 0 },
    org: { id: parts.orgId ?? 'org_1', limits: limits(parts.org), spendMicros: parts.spend?.org ?? 0 },
    effectiveTargets: ['gpt-test'],
    version: parts.version ?? 1,
    appliedBatchSeq: parts.appliedBatchSeq ?? 0,
  };
}

/** $1 per million input tokens, $4 per million output tokens. */
export const TARGET: TargetRoute = {
  name: 'gpt-test',
  baseUrl: 'http://127.0.0.1:1',
  upstreamModel: null,
  apiKeyEnv: null,
  inputMicrosPerMtok: 1_000_000,
  outputMicrosPerMtok: 4_000_000,
};

/** 10:30:15 UTC: 45 s to the next minute, 29 min 45 s to the next hour, 13 h 29 min 45 s to the next day. */
export const MID_MORNING = Date.UTC(2026, 2, 10, 10, 30, 15);
