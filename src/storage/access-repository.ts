/**
 * The access repository: loads asset-access state (targets, groups, a scope's mode and bindings)
 * from SQLite and resolves it with src/policy/effective-access.ts (the pure rules).
 * Read-only; callers inside a mutation see the mutation's own uncommitted writes.
 */
import {
  groupMemberIds,
  namesOf,
  resolveChain,
  type AccessGroupDef,
  type AccessMode,
  type AccessTarget,
  type ResolvedChain,
  type ScopeAccess,
} from '../policy/effective-access.js';
import type { Database } from './database.js';
import { prepared } from './statements.js';
import { parseTags } from './target-repository.js';

export type AccessScopeType = 'org' | 'team' | 'key';

const TABLE: Record<AccessScopeType, string> = { org: 'orgs', team: 'teams', key: 'keys' };

/** Every target (id, name, tags), ordered by name. */
export function loadAccessTargets(db: Database): AccessTarget[] {
  const rows = prepared(db, 'SELECT id, name, tags FROM targets ORDER BY name').all() as {
    id: string;
    name: string;
    tags: string;
  }[];
  return rows.map((row) => ({ id: row.id, name: row.name, tags: parseTags(row.tags) }));
}

interface GroupRow {
  id: string;
  match_name_glob: string | null;
  match_tags: string | null;
}

/** Group definitions (explicit members + rule) for `ids`, or for every group when omitted. */
export function loadAccessGroups(db: Database, ids?: readonly string[]): Map<string, AccessGroupDef> {
  const groups = new Map<string, AccessGroupDef>();
  if (ids !== undefined && ids.length === 0) return groups;
  const filter = ids === undefined ? '' : `WHERE id IN (${ids.map(() => '?').join(',')})`;
  const rows = prepared(db, `SELECT id, match_name_glob, match_tags FROM access_groups ${filter}`).all(
    ...(ids ?? []),
  ) as GroupRow[];
  const memberFilter = ids === undefined ? '' : `WHERE group_id IN (${ids.map(() => '?').join(',')})`;
  const members = prepared(db, `SELECT group_id, target_id FROM access_group_targets ${memberFilter}`).all(
    ...(ids ?? []),
  ) as { group_id: string; target_id: string }[];
  const explicit = new Map<string, string[]>();
  for (const m of members) {
    const list = explicit.get(m.group_id) ?? [];
    list.push(m.target_id);
    explicit.set(m.group_id, list);
  }
  for (const row of rows) {
    const tags = parseTags(row.match_tags);
    const hasRule = row.match_name_glob !== null || tags.length > 0;
    groups.set(row.id, {
      id: row.id,
      explicitTargetIds: explicit.get(row.id) ?? [],
      match: hasRule ? { nameGlob: row.match_name_glob, tags } : null,
    });
  }
  return groups;
}

/** The mode and bindings of one org, team or key (`inherit`/`all` when the row is missing). */
export function loadScopeAccess(db: Database, scope: AccessScopeType, scopeId: string): ScopeAccess {
  const row = prepared(db, `SELECT access_mode FROM ${TABLE[scope]} WHERE id = ?`).get(scopeId) as
    { access_mode: AccessMode } | undefined;
  const mode: AccessMode = row?.access_mode ?? (scope === 'org' ? 'all' : 'inherit');
  if (mode !== 'restrict') return { mode, targetIds: [], groupIds: [] };
  const bindings = prepared(
    db,
    'SELECT target_id, group_id FROM access_bindings WHERE scope_type = ? AND scope_id = ?',
  ).all(scope, scopeId) as { target_id: string | null; group_id: string | null }[];
  return {
    mode,
    targetIds: bindings.flatMap((b) => (b.target_id === null ? [] : [b.target_id])),
    groupIds: bindings.flatMap((b) => (b.group_id === null ? [] : [b.group_id])),
  };
}

export interface AccessScopeRef {
  orgId: string;
  teamId?: string | undefined;
  keyId?: string | undefined;
}

export interface ResolvedAccess {
  targets: AccessTarget[];
  chain: ResolvedChain;
}

/** Allowed target ids at org, team and key level for `scope` (missing levels inherit). */
export function resolveAccess(db: Database, scope: AccessScopeRef): ResolvedAccess {
  let teamId = scope.teamId;
  if (teamId === undefined && scope.keyId !== undefined) {
    const key = prepared(db, 'SELECT team_id FROM keys WHERE id = ?').get(scope.keyId) as
      { team_id: string } | undefined;
    teamId = key?.team_id;
  }
  const org = loadScopeAccess(db, 'org', scope.orgId);
  const team = teamId === undefined ? undefined : loadScopeAccess(db, 'team', teamId);
  const key = scope.keyId === undefined ? undefined : loadScopeAccess(db, 'key', scope.keyId);
  const groupIds = [...new Set([org, team, key].flatMap((s) => (s === undefined ? [] : s.groupIds)))];
  const targets = loadAccessTargets(db);
  const groups = loadAccessGroups(db, groupIds);
  return { targets, chain: resolveChain(targets, groups, { org, team, key }) };
}

/**
 * Sorted names of the targets allowed at the deepest level given: the org's set (only orgId),
 * team ∩ org (teamId), key ∩ team ∩ org (keyId).
 */
export function effectiveTargetNames(db: Database, scope: AccessScopeRef): string[] {
  const { targets, chain } = resolveAccess(db, scope);
  const level = scope.keyId !== undefined ? chain.key : scope.teamId !== undefined ? chain.team : chain.org;
  return namesOf(level, targets);
}

/** Sorted names of a group's current members (explicit ∪ matching); [] for an unknown group. */
export function groupMemberNames(db: Database, groupId: string): string[] {
  const group = loadAccessGroups(db, [groupId]).get(groupId);
  if (group === undefined) return [];
  const targets = loadAccessTargets(db);
  return namesOf(groupMemberIds(group, targets), targets);
}
