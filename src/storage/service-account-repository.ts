/** Service accounts in SQLite: the queries of the service-account routes. */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export interface ServiceAccountRow {
  id: string;
  team_id: string;
  name: string;
  description: string | null;
  created_by: string | null;
  created_at: number;
}

export function findServiceAccount(db: Database, id: string): ServiceAccountRow | undefined {
  return prepared(db, 'SELECT * FROM service_accounts WHERE id = ?').get(id) as ServiceAccountRow | undefined;
}

export function serviceAccountNameTaken(db: Database, teamId: string, name: string): boolean {
  return (
    prepared(db, 'SELECT 1 FROM service_accounts WHERE team_id = ? AND name = ?').get(teamId, name) !==
    undefined
  );
}

export function insertServiceAccount(db: Database, row: ServiceAccountRow): void {
  prepared(
    db,
    `INSERT INTO service_accounts (id, team_id, name, description, created_by, created_at)
     VALUES (@id, @team_id, @name, @description, @created_by, @created_at)`,
  ).run(row);
}

/** How many keys the account owns, and how many of them are active. */
export function serviceAccountKeyCounts(db: Database, id: string): { keys: number; active: number } {
  return prepared(
    db,
    "SELECT COUNT(*) AS keys, IFNULL(SUM(status = 'active'), 0) AS active FROM keys WHERE owner_service_account_id = ?",
  ).get(id) as { keys: number; active: number };
}

/** The keys the account owns (id, status), oldest first. */
export function serviceAccountKeys(db: Database, id: string): { id: string; status: string }[] {
  return prepared(
    db,
    'SELECT id, status FROM keys WHERE owner_service_account_id = ? ORDER BY created_at, id',
  ).all(id) as { id: string; status: string }[];
}

/** The list of a team's service accounts, for paginate(). */
export function serviceAccountListQuery(teamId: string): { sql: string; params: unknown[] } {
  return { sql: 'SELECT * FROM service_accounts WHERE team_id = ?', params: [teamId] };
}

export function deleteServiceAccount(db: Database, id: string): void {
  prepared(db, 'DELETE FROM service_accounts WHERE id = ?').run(id);
}

/** The account with its team's org (undefined when missing). */
export function findServiceAccountScope(
  db: Database,
  id: string,
): { id: string; team_id: string; org_id: string } | undefined {
  return prepared(
    db,
    'SELECT sa.id, sa.team_id, t.org_id FROM service_accounts sa JOIN teams t ON t.id = sa.team_id WHERE sa.id = ?',
  ).get(id) as { id: string; team_id: string; org_id: string } | undefined;
}
