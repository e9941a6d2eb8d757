/** Access groups in SQLite: the queries of the access-group routes besides rows.ts. */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export interface AccessGroupRow {
  id: string;
  name: string;
  org_id: string | null;
  match_name_glob: string | null;
  match_tags: string | null;
  created_at: number;
  updated_at: number;
}

export function insertAccessGroup(db: Database, row: AccessGroupRow): void {
  prepared(
    db,
    `INSERT INTO access_groups (id, name, org_id, match_name_glob, match_tags, created_at, updated_at)
     VALUES (@id, @name, @org_id, @match_name_glob, @match_tags, @created_at, @updated_at)`,
  ).run(row);
}

/** Names of the group's explicit members, ordered. */
export function explicitTargetNames(db: Database, groupId: string): string[] {
  const rows = prepared(
    db,
    `SELECT t.name FROM access_group_targets g JOIN targets t ON t.id = g.target_id
     WHERE g.group_id = ? ORDER BY t.name`,
  ).all(groupId) as { name: string }[];
  return rows.map((row) => row.name);
}

export function replaceExplicitTargets(db: Database, groupId: string, targetIds: readonly string[]): void {
  prepared(db, 'DELETE FROM access_group_targets WHERE group_id = ?').run(groupId);
  const insert = prepared(db, 'INSERT INTO access_group_targets (group_id, target_id) VALUES (?, ?)');
  for (const id of targetIds) insert.run(groupId, id);
}

/** Whether some org's access is bound to the group (then its members are part of that org's access). */
export function isBoundAtOrgScope(db: Database, groupId: string): boolean {
  return (
    prepared(db, "SELECT 1 FROM access_bindings WHERE scope_type = 'org' AND group_id = ? LIMIT 1").get(
      groupId,
    ) !== undefined
  );
}

/** The list of `GET /v1/access-groups`: global + `visibleOrgIds` groups (or all), optionally one org's. */
export function accessGroupListQuery(
  visibleOrgIds: readonly string[] | 'all',
  orgId: string | undefined,
): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (visibleOrgIds !== 'all') {
    where.push(`(org_id IS NULL OR org_id IN (${visibleOrgIds.map(() => '?').join(',') || "''"}))`);
    params.push(...visibleOrgIds);
  }
  if (orgId !== undefined) {
    where.push('org_id = ?');
    params.push(orgId);
  }
  return {
    sql: `SELECT * FROM access_groups WHERE ${where.length === 0 ? '1' : where.join(' AND ')}`,
    params,
  };
}

/** Deletes the group; bindings to it go with it (ON DELETE CASCADE): scopes lose, never gain. */
export function deleteAccessGroup(db: Database, groupId: string): void {
  prepared(db, 'DELETE FROM access_groups WHERE id = ?').run(groupId);
}
