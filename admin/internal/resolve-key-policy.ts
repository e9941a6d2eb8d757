/**
 * `GET /internal/keys/:hash` (docs/api.md "Internal API"): everything a gateway needs to decide on a key,
 * read in one synchronous pass over SQLite (so `version` and the data are one snapshot).
 *
 * A hash resolves when it is the key's current hash, or its previous hash while the regenerate
 * grace period lasts; then `expiresAt` = min(key expiry, grace end). Deleted keys and previous
 * hashes past their grace are unknown (null → 404). Revoked keys resolve with their status.
 */
import { SHADOW_BIT_OF_FIELD, type Limits } from '../../src/policy/limits.js';
import type { KeyOverride, ResolvedKeyPolicy, ScopeState } from '../../src/policy/resolved-policy.js';
import type { Database } from '../../src/storage/database.js';
import { changeLogHead } from '../../src/storage/change-log.js';
import { effectiveTargetNames } from '../../src/storage/access-repository.js';
import {
  keyPolicyReads,
  type KeyPolicyReads,
  type LiveOverrideRow,
} from '../../src/storage/key-policy-repository.js';
import type { LimitColumns } from '../schemas.js';

interface ScopeRow extends LimitColumns {
  id: string;
}

interface ResolvedKeyRow extends ScopeRow {
  team_id: string;
  org_id: string;
  status: 'active' | 'revoked';
  blocked: number;
  owner_blocked: number | null;
  tags: string;
  allow_request_tags: number;
  token_hash: string;
  previous_token_hash: string | null;
  previous_valid_until: number | null;
  expires_at: number | null;
  name: string;
  access_mode: 'inherit' | 'restrict';
}

/**
 * Shared by the keys of one batch or page (admin/internal/key-batch.ts), all read in one
 * transaction: the change-log head, the asking gateway's batch seq, team and org rows, and the
 * target list of each team for keys that inherit it (the same for every such key of the team). Resolving 1,000 keys
 * of one team then reads the access chain once, not 1,000 times.
 */
export interface ResolveMemo {
  head?: number;
  batchSeq?: number;
  teamTargets: Map<string, string[]>;
  /** Team and org rows by id. */
  scopes?: Map<string, ScopeRow>;
}

function rowOf(memo: ResolveMemo, read: (id: string) => ScopeRow | undefined, id: string): ScopeRow {
  memo.scopes ??= new Map();
  let row = memo.scopes.get(id);
  if (row === undefined) {
    row = read(id)!;
    memo.scopes.set(id, row);
  }
  return row;
}

export const TOKEN_HASH = /^[0-9a-f]{64}$/;

function limitsOf(row: LimitColumns): Limits {
  return {
    maxBudgetMicros: row.max_budget_micros,
    rpm: row.rpm_limit,
    tpm: row.tpm_limit,
    rph: row.rph_limit,
    rpd: row.rpd_limit,
    tpd: row.tpd_limit,
    maxParallel: row.max_parallel_requests,
    budgetPeriod: row.budget_period,
    shadow: shadowBits(row.limit_modes),
  };
}

function shadowBits(modes: string): number {
  let bits = 0;
  for (const [field, mode] of Object.entries(JSON.parse(modes) as Record<string, string>)) {
    if (mode === 'shadow') bits |= SHADOW_BIT_OF_FIELD[field] ?? 0;
  }
  return bits;
}

function scopeState(row: ScopeRow): ScopeState {
  return {
    id: row.id,
    limits: limitsOf(row),
    spendMicros: row.spend_micros,
    periodSpendMicros: row.period_spend_micros,
    periodStartMs: row.period_start,
  };
}

/** An override's limits: the key's own, with the fields the override sets replaced. */
function overrideOf(base: Limits, row: LiveOverrideRow): KeyOverride {
  const set = JSON.parse(row.limits) as Partial<Limits>;
  return { id: row.id, limits: { ...base, ...set }, expiresAt: row.expires_at };
}

function minOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

/** The lookup's reads of `db`, typed with this module's rows. */
function readsOf(db: Database): KeyPolicyReads<ResolvedKeyRow, ScopeRow> {
  return keyPolicyReads<ResolvedKeyRow, ScopeRow>(db);
}

export function appliedBatchSeq(db: Database, gatewayId: string | undefined): number {
  if (gatewayId === undefined || gatewayId === '') return 0;
  return readsOf(db).appliedBatchSeq(gatewayId);
}

/** A key that inherits its access has its team's targets (key level = team level). */
function targetsOf(db: Database, row: ResolvedKeyRow, memo: ResolveMemo | undefined): string[] {
  if (memo === undefined || row.access_mode !== 'inherit') {
    return effectiveTargetNames(db, { orgId: row.org_id, teamId: row.team_id, keyId: row.id });
  }
  let targets = memo.teamTargets.get(row.team_id);
  if (targets === undefined) {
    targets = effectiveTargetNames(db, { orgId: row.org_id, teamId: row.team_id });
    memo.teamTargets.set(row.team_id, targets);
  }
  return targets.slice();
}

export function resolveKeyPolicy(
  db: Database,
  tokenHash: string,
  gatewayId: string | undefined,
  now: number,
  memo?: ResolveMemo,
): ResolvedKeyPolicy | null {
  if (!TOKEN_HASH.test(tokenHash)) return null;
  const reads = readsOf(db);
  let row = reads.byHash(tokenHash);
  let expiresAt = row?.expires_at ?? null;
  if (row === undefined) {
    row = reads.byPreviousHash(tokenHash, now);
    if (row === undefined) return null;
    expiresAt = minOrNull(row.expires_at, row.previous_valid_until);
  }
  const team = memo === undefined ? reads.team(row.team_id)! : rowOf(memo, reads.team, row.team_id);
  const org = memo === undefined ? reads.org(row.org_id)! : rowOf(memo, reads.org, row.org_id);
  const key = scopeState(row);
  const overrides = reads.overrides(row.id, now).map((entry) => overrideOf(key.limits, entry));
  return {
    keyId: row.id,
    keyName: row.name,
    tokenHash,
    status:
      row.status === 'revoked'
        ? 'revoked'
        : row.blocked === 1 || row.owner_blocked === 1
          ? 'blocked'
          : 'active',
    expiresAt,
    key,
    ...(overrides.length > 0 ? { overrides } : {}),
    tags: JSON.parse(row.tags) as string[],
    allowRequestTags: row.allow_request_tags === 1,
    team: scopeState(team),
    org: scopeState(org),
    effectiveTargets: targetsOf(db, row, memo),
    version: memo === undefined ? changeLogHead(db) : (memo.head ??= changeLogHead(db)),
    appliedBatchSeq:
      memo === undefined
        ? appliedBatchSeq(db, gatewayId)
        : (memo.batchSeq ??= appliedBatchSeq(db, gatewayId)),
  };
}
