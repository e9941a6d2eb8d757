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
  type RecentCursor,
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
 * transaction: the change-log head, the asking gateway's batch seq, team and org rows (and their
 * resolved state), and the target list of each team for keys that inherit it (the same for every
 * such key of the team). Resolving 1,000 keys of one team then reads the access chain once, not
 * 1,000 times.
 */
export interface ResolveMemo {
  head?: number;
  batchSeq?: number;
  teamTargets: Map<string, string[]>;
  /** Team and org rows by id. */
  scopes?: Map<string, ScopeRow>;
  /** Team and org states by id (one object per scope per call: the JSON is the same). */
  states?: Map<string, ScopeState>;
}

type ScopeRead = (id: string) => ScopeRow | undefined;

/** Team target lists of inheriting keys, kept across batches while the change-log head stays. */
const TEAM_TARGETS = new WeakMap<Database, { head: number; teamTargets: Map<string, string[]> }>();

/**
 * The memo of one batch or page; call inside its read transaction. Head and batch seq come from
 * one statement. A team's target list is kept from batch to batch while the change-log head is
 * the same: every write that changes what it is computed from (targets, access groups, an org's or
 * team's access mode and bindings) appends a change-log row in its own transaction, the rows a
 * gateway's cached policies are invalidated by (src/invalidation). Spend and limits are read per
 * batch (usage changes them without a change-log row).
 */
export function batchMemo(db: Database, gatewayId: string | undefined): ResolveMemo {
  let head: number;
  let batchSeq = 0;
  if (gatewayId === undefined || gatewayId === '') head = changeLogHead(db);
  else ({ head, seq: batchSeq } = readsOf(db).headAndBatchSeq(gatewayId));
  let shared = TEAM_TARGETS.get(db);
  if (shared === undefined || shared.head !== head) {
    shared = { head, teamTargets: new Map() };
    TEAM_TARGETS.set(db, shared);
  }
  return { head, batchSeq, teamTargets: shared.teamTargets };
}

function rowOf(memo: ResolveMemo, read: ScopeRead, id: string): ScopeRow {
  memo.scopes ??= new Map();
  let row = memo.scopes.get(id);
  if (row === undefined) {
    row = read(id)!;
    memo.scopes.set(id, row);
  }
  return row;
}

/**
 * The team's and its org's states, the rows of both read by one statement the first time the
 * batch meets the team (the org row is then in the memo for the org's other teams too).
 */
function teamAndOrgStates(
  memo: ResolveMemo | undefined,
  reads: KeyPolicyReads<ResolvedKeyRow, ScopeRow>,
  row: ResolvedKeyRow,
): { team: ScopeState; org: ScopeState } {
  if (memo !== undefined && memo.scopes?.has(row.team_id) !== true) {
    const both = reads.teamAndOrg(row.team_id);
    if (both !== undefined) {
      memo.scopes ??= new Map();
      memo.scopes.set(both.team.id, both.team);
      if (!memo.scopes.has(both.org.id)) memo.scopes.set(both.org.id, both.org);
    }
  }
  return { team: stateOf(memo, reads.team, row.team_id), org: stateOf(memo, reads.org, row.org_id) };
}

function stateOf(memo: ResolveMemo | undefined, read: ScopeRead, id: string): ScopeState {
  if (memo === undefined) return scopeState(read(id)!);
  memo.states ??= new Map();
  let state = memo.states.get(id);
  if (state === undefined) {
    state = scopeState(rowOf(memo, read, id));
    memo.states.set(id, state);
  }
  return state;
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
  if (modes === '{}') return 0; // most keys: no JSON.parse per key of a page
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

/** The lookup's reads of `db` (prepared once per database), typed with this module's rows. */
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
  const row = reads.byHash(tokenHash) ?? reads.byPreviousHash(tokenHash, now);
  if (row === undefined) return null;
  const overrides = reads.overrides(row.id, now);
  return policyOf(db, row, tokenHash, overrides, gatewayId, now, memo);
}

/**
 * `resolveKeyPolicy` for many hashes (issue 15, `POST /internal/keys` and the warm-start pages):
 * the same answer per hash, with one indexed get per hash for the key row, then one statement per
 * batch for the previous hashes of those not found and one for the overrides (instead of up to
 * three statements per hash), team and org states built once. Call inside a transaction with a
 * memo shared by the batch.
 */
export function resolveKeyPolicyBatch(
  db: Database,
  hashes: readonly string[],
  gatewayId: string | undefined,
  now: number,
  memo: ResolveMemo,
): (ResolvedKeyPolicy | null)[] {
  const reads = readsOf(db);
  const valid = [...new Set(hashes.filter((hash) => TOKEN_HASH.test(hash)))];
  const rows = new Map<string, ResolvedKeyRow>();
  for (const hash of valid) {
    const row = reads.byHash(hash);
    if (row !== undefined) rows.set(hash, row);
  }
  const missing = valid.filter((hash) => !rows.has(hash));
  if (missing.length > 0) {
    for (const row of reads.byPreviousHashes(missing, now)) {
      if (!rows.has(row.previous_token_hash!)) rows.set(row.previous_token_hash!, row);
    }
  }
  const overrides = overridesOf(db, rows.values(), now);
  return hashes.map((hash) => {
    const row = rows.get(hash);
    return row === undefined
      ? null
      : policyOf(db, row, hash, overrides.get(row.id) ?? [], gatewayId, now, memo);
  });
}

/**
 * A warm-start page (issue 15, `GET /internal/keys`): the policies of the active keys used most
 * recently after `after`, each resolved by its current hash exactly as `resolveKeyPolicyBatch`
 * would, with the key rows read by one statement for the page (a get per key was ~45 % of the
 * page's CPU). Call inside a transaction with a memo shared by the page. `last` is the cursor of
 * the page's last row (undefined when empty).
 */
export function recentKeyPolicyPage(
  db: Database,
  after: RecentCursor | undefined,
  limit: number,
  gatewayId: string | undefined,
  now: number,
  memo: ResolveMemo,
): { policies: ResolvedKeyPolicy[]; rows: number; last: RecentCursor | undefined } {
  const rows = readsOf(db).recentlyUsed(after, limit);
  const overrides = overridesOf(db, rows, now);
  const policies = rows.map((row) =>
    policyOf(db, row, row.token_hash, overrides.get(row.id) ?? [], gatewayId, now, memo),
  );
  const last = rows[rows.length - 1];
  return {
    policies,
    rows: rows.length,
    last: last === undefined ? undefined : { lastUsedAt: last.last_used_at, num: last.key_num },
  };
}

/** The live overrides of the rows' keys (one statement), by key id, newest first. */
function overridesOf(
  db: Database,
  rows: Iterable<ResolvedKeyRow>,
  now: number,
): Map<string, LiveOverrideRow[]> {
  const overrides = new Map<string, LiveOverrideRow[]>();
  const ids = [...new Set([...rows].map((row) => row.id))];
  if (ids.length === 0) return overrides;
  for (const entry of readsOf(db).overridesOfKeys(ids, now)) {
    const list = overrides.get(entry.key_id);
    if (list === undefined) overrides.set(entry.key_id, [entry]);
    else list.push(entry);
  }
  return overrides;
}

/** The policy of a key row found by `tokenHash` (its current hash, or its previous one). */
function policyOf(
  db: Database,
  row: ResolvedKeyRow,
  tokenHash: string,
  overrideRows: readonly LiveOverrideRow[],
  gatewayId: string | undefined,
  now: number,
  memo: ResolveMemo | undefined,
): ResolvedKeyPolicy {
  const reads = readsOf(db);
  const expiresAt =
    row.token_hash === tokenHash ? row.expires_at : minOrNull(row.expires_at, row.previous_valid_until);
  const key = scopeState(row);
  const overrides = overrideRows.map((entry) => overrideOf(key.limits, entry));
  const scopes = teamAndOrgStates(memo, reads, row);
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
    tags: row.tags === '[]' ? [] : (JSON.parse(row.tags) as string[]),
    allowRequestTags: row.allow_request_tags === 1,
    team: scopes.team,
    org: scopes.org,
    effectiveTargets: targetsOf(db, row, memo),
    version: memo === undefined ? changeLogHead(db) : (memo.head ??= changeLogHead(db)),
    appliedBatchSeq:
      memo === undefined
        ? appliedBatchSeq(db, gatewayId)
        : (memo.batchSeq ??= appliedBatchSeq(db, gatewayId)),
  };
}
