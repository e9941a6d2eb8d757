/**
 * Access bindings in SQLite, as the admin plane writes and shows them (admin/access-bindings.ts):
 * the scope's `access_mode` column plus its rows in `access_bindings`. The resolution reads for
 * policies are in access-repository.ts. Table names come from code.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export type BindingScope = 'org' | 'team' | 'key';

const TABLE: Record<BindingScope, string> = { org: 'orgs', team: 'teams', key: 'keys' };

/** The org of a team (undefined when there is no such team). */
export function orgOfTeam(db: Database, teamId: string): string | undefined {
  return (prepared(db, 'SELECT org_id FROM teams WHERE id = ?').get(teamId) as { org_id: string } | undefined)
    ?.org_id;
}

/** The team and org of a key (undefined when there is no such key). */
export function lineageOfKey(db: Database, keyId: string): { team_id: string; org_id: string } | undefined {
  return prepared(
    db,
    'SELECT k.team_id, t.org_id FROM keys k JOIN teams t ON t.id = k.team_id WHERE k.id = ?',
  ).get(keyId) as { team_id: string; org_id: string } | undefined;
}

/** An access group by id, else by name among `orgId`'s groups and the global ones (the org's own first). */
export function findAccessGroupRef(
  db: Database,
  ref: string,
  orgId: string,
): { id: string; org_id: string | null } | undefined {
  return prepared(
    db,
    `SELECT id, org_id FROM access_groups
     WHERE id = @ref OR (name = @ref AND (org_id IS NULL OR org_id = @org))
     ORDER BY id = @ref DESC, org_id IS NULL LIMIT 1`,
  ).get({ ref, org: orgId }) as { id: string; org_id: string | null } | undefined;
}

/** Sets the scope's mode and replaces its bindings by these targets and groups. */
export function replaceBindings(
  db: Database,
  scope: BindingScope,
  scopeId: string,
  binding: { mode: string; targetIds: readonly string[]; groupIds: readonly string[] },
): void {
  prepared(db, 'DELETE FROM access_bindings WHERE scope_type = ? AND scope_id = ?').run(scope, scopeId);
  prepared(db, `UPDATE ${TABLE[scope]} SET access_mode = ? WHERE id = ?`).run(binding.mode, scopeId);
  const insert = prepared(
    db,
    'INSERT OR IGNORE INTO access_bindings (scope_type, scope_id, target_id, group_id) VALUES (?, ?, ?, ?)',
  );
  for (const id of binding.targetIds) insert.run(scope, scopeId, id, null);
  for (const id of binding.groupIds) insert.run(scope, scopeId, null, id);
}

/** The scope's mode (undefined when the row is missing), bound target names and bound group ids, ordered. */
export function readBindings(
  db: Database,
  scope: BindingScope,
  scopeId: string,
): { mode: string | undefined; targetNames: string[]; groupIds: string[] } {
  const row = prepared(db, `SELECT access_mode FROM ${TABLE[scope]} WHERE id = ?`).get(scopeId) as
    { access_mode: string } | undefined;
  const targets = prepared(
    db,
    `SELECT t.name FROM access_bindings b JOIN targets t ON t.id = b.target_id
     WHERE b.scope_type = ? AND b.scope_id = ? ORDER BY t.name`,
  ).all(scope, scopeId) as { name: string }[];
  const groups = prepared(
    db,
    'SELECT group_id FROM access_bindings WHERE scope_type = ? AND scope_id = ? AND group_id IS NOT NULL ORDER BY group_id',
  ).all(scope, scopeId) as { group_id: string }[];
  return {
    mode: row?.access_mode,
    targetNames: targets.map((t) => t.name),
    groupIds: groups.map((g) => g.group_id),
  };
}
