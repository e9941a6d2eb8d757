/**
 * Asset-access bindings of an org, team or key (DESIGN.md "Asset access"): the mode column of
 * the scope plus rows in access_bindings. Call writeAccess inside the mutation's transaction,
 * after the scope row exists (a key's or team's parent is read from its row).
 *
 * Narrowing rules (API.md `target_not_in_parent_scope`):
 * - org: no parent. Every named target and group must exist (else 400 invalid_request); a group
 *   must be global or belong to this org (another org's group is reported as unknown).
 * - team (parent = the org's set) and key (parent = team ∩ org):
 *   - a target must be in the parent's current set;
 *   - an access group is accepted when an ancestor (the org for a team; the team or the org for a
 *     key) binds the same group, or when every current member of the group is in the parent's
 *     set (an empty group qualifies). Members the group gains later that the parent does not allow
 *     are cut off at resolution time by the intersection, so a binding can never widen access.
 *   Anything else → 400 target_not_in_parent_scope with `param` access.targets /
 *   access.access_groups.
 */
import { KeygateError } from '../src/errors/keygate-error.js';
import { groupMemberIds } from '../src/policy/effective-access.js';
import type { Database } from '../src/storage/database.js';
import {
  loadAccessGroups,
  loadAccessTargets,
  loadScopeAccess,
  resolveAccess,
} from '../src/storage/access-repository.js';
import {
  findAccessGroupRef,
  lineageOfKey,
  orgOfTeam,
  readBindings,
  replaceBindings,
} from '../src/storage/access-binding-repository.js';
import { findTargetIdByName } from '../src/storage/target-repository.js';

export type AccessScope = 'org' | 'team' | 'key';

export type AccessInput =
  { mode: 'all' } | { mode: 'inherit' } | { mode: 'restrict'; targets: string[]; access_groups: string[] };

/** The JSON form of a scope's asset access (`access` in org, team and key views). */
export interface AccessSettingsView {
  mode: 'all' | 'inherit' | 'restrict';
  targets: string[];
  access_groups: string[];
}

interface Lineage {
  orgId: string;
  teamId?: string;
}

/** The org (and team, for a key) above a scope, read from its row. */
function lineage(db: Database, scope: AccessScope, scopeId: string): Lineage {
  if (scope === 'org') return { orgId: scopeId };
  if (scope === 'team') {
    const orgId = orgOfTeam(db, scopeId);
    if (orgId === undefined) throw new Error(`writeAccess: team ${scopeId} does not exist`);
    return { orgId };
  }
  const key = lineageOfKey(db, scopeId);
  if (key === undefined) throw new Error(`writeAccess: key ${scopeId} does not exist`);
  return { orgId: key.org_id, teamId: key.team_id };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

export function writeAccess(db: Database, scope: AccessScope, scopeId: string, access: AccessInput): void {
  const open = scope === 'org' ? 'all' : 'inherit';
  if (access.mode !== 'restrict' && access.mode !== open) {
    throw new KeygateError('invalid_request', {
      param: 'access.mode',
      message: `access.mode must be "${open}" or "restrict".`,
    });
  }
  const { orgId, teamId } = lineage(db, scope, scopeId);

  let targetIds: string[] = [];
  let groupIds: string[] = [];
  if (access.mode === 'restrict') {
    targetIds = unique(access.targets).map((name) => {
      const targetId = findTargetIdByName(db, name);
      if (targetId === undefined) {
        throw new KeygateError('invalid_request', {
          param: 'access.targets',
          message: `Unknown target "${name}".`,
        });
      }
      return targetId;
    });
    groupIds = unique(access.access_groups).map((ref) => {
      // By id, else by name among this org's groups and the global ones (the org's own first).
      const group = findAccessGroupRef(db, ref, orgId);
      if (group === undefined || (group.org_id !== null && group.org_id !== orgId)) {
        throw new KeygateError('invalid_request', {
          param: 'access.access_groups',
          message: `Unknown access group "${ref}".`,
        });
      }
      return group.id;
    });
    if (scope !== 'org')
      checkWithinParent(
        db,
        scope,
        { orgId, ...(teamId === undefined ? {} : { teamId }) },
        targetIds,
        groupIds,
      );
  }

  replaceBindings(db, scope, scopeId, { mode: access.mode, targetIds, groupIds });
}

function checkWithinParent(
  db: Database,
  scope: 'team' | 'key',
  parent: Lineage,
  targetIds: readonly string[],
  groupIds: readonly string[],
): void {
  // The parent of a team is the org; the parent of a key is its team (∩ org).
  const resolved = resolveAccess(db, scope === 'team' ? { orgId: parent.orgId } : parent);
  const allowed = scope === 'team' ? resolved.chain.org : resolved.chain.team;
  const nameOf = new Map(resolved.targets.map((t) => [t.id, t.name]));

  targetIds.forEach((id) => {
    if (!allowed.has(id)) {
      throw new KeygateError('target_not_in_parent_scope', {
        param: 'access.targets',
        message: `Target "${nameOf.get(id) ?? id}" is not allowed by the ${scope === 'team' ? 'org' : 'team'}.`,
      });
    }
  });

  if (groupIds.length === 0) return;
  const ancestorGroups = new Set(loadScopeAccess(db, 'org', parent.orgId).groupIds);
  if (scope === 'key' && parent.teamId !== undefined) {
    for (const id of loadScopeAccess(db, 'team', parent.teamId).groupIds) ancestorGroups.add(id);
  }
  const targets = loadAccessTargets(db);
  const groups = loadAccessGroups(db, groupIds);
  for (const id of groupIds) {
    if (ancestorGroups.has(id)) continue;
    const group = groups.get(id);
    const outside =
      group === undefined ? [] : [...groupMemberIds(group, targets)].filter((m) => !allowed.has(m));
    if (outside.length > 0) {
      throw new KeygateError('target_not_in_parent_scope', {
        param: 'access.access_groups',
        message: `Access group "${id}" contains targets the ${scope === 'team' ? 'org' : 'team'} does not allow (${outside
          .map((m) => nameOf.get(m) ?? m)
          .sort()
          .join(', ')}).`,
      });
    }
  }
}

export function accessView(db: Database, scope: AccessScope, scopeId: string): AccessSettingsView {
  const bindings = readBindings(db, scope, scopeId);
  return {
    mode: (bindings.mode as AccessSettingsView['mode'] | undefined) ?? (scope === 'org' ? 'all' : 'inherit'),
    targets: bindings.targetNames,
    access_groups: bindings.groupIds,
  };
}
