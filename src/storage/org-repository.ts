/** Orgs in SQLite: the queries of the org routes besides the generic row helpers (rows.ts). */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export function insertOrg(db: Database, org: { id: string; name: string; now: number }): void {
  prepared(db, 'INSERT INTO orgs (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)').run(
    org.id,
    org.name,
    org.now,
    org.now,
  );
}

/** The list of `GET /v1/orgs`: every org, or only `visibleIds`; for paginate(). */
export function orgListQuery(visibleIds: readonly string[] | 'all'): { sql: string; params: unknown[] } {
  if (visibleIds === 'all') return { sql: 'SELECT * FROM orgs WHERE 1', params: [] };
  return {
    sql: `SELECT * FROM orgs WHERE id IN (${visibleIds.map(() => '?').join(',') || "''"})`,
    params: [...visibleIds],
  };
}

export function orgHasTeams(db: Database, orgId: string): boolean {
  return prepared(db, 'SELECT 1 FROM teams WHERE org_id = ? LIMIT 1').get(orgId) !== undefined;
}

/** Deletes the org and its own access bindings (its teams must be gone already). */
export function deleteOrg(db: Database, orgId: string): void {
  prepared(db, "DELETE FROM access_bindings WHERE scope_type = 'org' AND scope_id = ?").run(orgId);
  prepared(db, 'DELETE FROM orgs WHERE id = ?').run(orgId);
}
