/**
 * Users in SQLite: the queries of the user routes besides the generic row helpers (rows.ts).
 * Who may see a user is a set of scopes (the caller itself, orgs and teams whose members it
 * manages) or 'all'; the filter over `users u` is built here from those ids.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

/** The users a caller may see: every user, or itself and the members of the given orgs/teams. */
export type UserVisibility =
  'all' | { userId: string | null; orgIds: readonly string[]; teamIds: readonly string[] };

/** SQL condition (over `users u`) + params selecting the visible users. */
function visibilityFilter(visible: UserVisibility): { sql: string; params: unknown[] } {
  if (visible === 'all') return { sql: '1', params: [] };
  const { orgIds, teamIds } = visible;
  const list = (ids: readonly string[]) => ids.map(() => '?').join(',') || "''";
  return {
    sql: `(u.id = ?
      OR EXISTS (SELECT 1 FROM org_members om WHERE om.user_id = u.id AND om.org_id IN (${list(orgIds)}))
      OR EXISTS (SELECT 1 FROM team_members tm JOIN teams t ON t.id = tm.team_id
                 WHERE tm.user_id = u.id AND (tm.team_id IN (${list(teamIds)}) OR t.org_id IN (${list(orgIds)}))))`,
    params: [visible.userId, ...orgIds, ...teamIds, ...orgIds],
  };
}

/** The user when it exists and is visible. */
export function findVisibleUser<T>(db: Database, id: string, visible: UserVisibility): T | undefined {
  const filter = visibilityFilter(visible);
  return prepared(db, `SELECT u.* FROM users u WHERE u.id = ? AND ${filter.sql}`).get(
    id,
    ...filter.params,
  ) as T | undefined;
}

/** The list of `GET /v1/users` (table alias `u`, for paginate). */
export function userListQuery(visible: UserVisibility): { sql: string; params: unknown[] } {
  const filter = visibilityFilter(visible);
  return { sql: `SELECT u.* FROM users u WHERE ${filter.sql}`, params: filter.params };
}

/** Whether another user (not `exceptId`) already has `email`. */
export function emailTaken(db: Database, email: string, exceptId: string | null): boolean {
  return (
    prepared(db, 'SELECT id FROM users WHERE email = ? AND id IS NOT ?').get(email, exceptId) !== undefined
  );
}

export function insertUser(
  db: Database,
  user: { id: string; email: string; name: string | null; platformRole: string; now: number },
): void {
  prepared(
    db,
    'INSERT INTO users (id, email, name, platform_role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(user.id, user.email, user.name, user.platformRole, user.now, user.now);
}

/** The teams of the given orgs, with their org. */
export function teamsOfOrgs(db: Database, orgIds: readonly string[]): { id: string; org_id: string }[] {
  return prepared(
    db,
    `SELECT id, org_id FROM teams WHERE org_id IN (${orgIds.map(() => '?').join(',') || "''"})`,
  ).all(...orgIds) as { id: string; org_id: string }[];
}

/** The user's org memberships, by org id. */
export function orgMembershipsOf(db: Database, userId: string): { org_id: string; role: string }[] {
  return prepared(db, 'SELECT org_id, role FROM org_members WHERE user_id = ? ORDER BY org_id').all(
    userId,
  ) as { org_id: string; role: string }[];
}

/** The user's team memberships (with each team's org), by team id. */
export function teamMembershipsOf(
  db: Database,
  userId: string,
): { team_id: string; org_id: string; role: string }[] {
  return prepared(
    db,
    'SELECT tm.team_id, t.org_id, tm.role FROM team_members tm JOIN teams t ON t.id = tm.team_id WHERE tm.user_id = ? ORDER BY tm.team_id',
  ).all(userId) as { team_id: string; org_id: string; role: string }[];
}

/** The active keys the user owns (not service-account keys), with their team's org. */
export function activeKeysOwnedBy(
  db: Database,
  userId: string,
): { id: string; team_id: string; org_id: string; token_hash: string; previous_token_hash: string | null }[] {
  return prepared(
    db,
    `SELECT k.id, k.team_id, t.org_id, k.token_hash, k.previous_token_hash FROM keys k
     JOIN teams t ON t.id = k.team_id
     WHERE k.owner_type = 'user' AND k.owner_user_id = ? AND k.status = 'active'`,
  ).all(userId) as {
    id: string;
    team_id: string;
    org_id: string;
    token_hash: string;
    previous_token_hash: string | null;
  }[];
}

/** Token hashes of every key the user owns (any status). */
export function keyHashesOwnedBy(
  db: Database,
  userId: string,
): { token_hash: string; previous_token_hash: string | null }[] {
  return prepared(db, 'SELECT token_hash, previous_token_hash FROM keys WHERE owner_user_id = ?').all(
    userId,
  ) as { token_hash: string; previous_token_hash: string | null }[];
}

/** Whether the user is blocked (undefined when there is no such user). */
export function findUserBlocked(db: Database, id: string): { id: string; blocked: number } | undefined {
  return prepared(db, 'SELECT id, blocked FROM users WHERE id = ?').get(id) as
    { id: string; blocked: number } | undefined;
}

/** Deletes the user; memberships go with it (ON DELETE CASCADE). */
export function deleteUser(db: Database, id: string): void {
  prepared(db, 'DELETE FROM users WHERE id = ?').run(id);
}

/** The user's id and password hash by email (console sign-in). */
export function findUserCredentials(
  db: Database,
  email: string,
): { id: string; password_hash: string | null } | undefined {
  return prepared(db, 'SELECT id, password_hash FROM users WHERE email = ?').get(email) as
    { id: string; password_hash: string | null } | undefined;
}
