/** Teams in SQLite: the queries of the team routes besides the generic row helpers (rows.ts). */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export function insertTeam(
  db: Database,
  team: { id: string; orgId: string; name: string; now: number },
): void {
  prepared(db, 'INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
    team.id,
    team.orgId,
    team.name,
    team.now,
    team.now,
  );
}

/**
 * The list of `GET /v1/teams` (table alias `t`, for paginate): optionally one org's, and unless
 * `readable` is 'all', only teams of `readable.orgIds` or among `readable.teamIds`.
 */
export function teamListQuery(
  orgId: string | undefined,
  readable: { orgIds: readonly string[]; teamIds: readonly string[] } | 'all',
): { sql: string; params: unknown[] } {
  let where = 'WHERE 1';
  const params: unknown[] = [];
  if (orgId !== undefined) {
    where += ' AND t.org_id = ?';
    params.push(orgId);
  }
  if (readable !== 'all') {
    const list = (ids: readonly string[]) => ids.map(() => '?').join(',') || "''";
    where += ` AND (t.org_id IN (${list(readable.orgIds)}) OR t.id IN (${list(readable.teamIds)}))`;
    params.push(...readable.orgIds, ...readable.teamIds);
  }
  return { sql: `SELECT t.* FROM teams t ${where}`, params };
}

/** Keys (even revoked ones) carry spend and audit history: a team that has any cannot go. */
export function teamHasKeys(db: Database, teamId: string): boolean {
  return prepared(db, 'SELECT 1 FROM keys WHERE team_id = ? LIMIT 1').get(teamId) !== undefined;
}

/** Deletes the team with its service accounts and its own access bindings. */
export function deleteTeam(db: Database, teamId: string): void {
  prepared(db, 'DELETE FROM service_accounts WHERE team_id = ?').run(teamId);
  prepared(db, "DELETE FROM access_bindings WHERE scope_type = 'team' AND scope_id = ?").run(teamId);
  prepared(db, 'DELETE FROM teams WHERE id = ?').run(teamId);
}
