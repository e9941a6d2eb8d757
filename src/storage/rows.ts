/**
 * Generic row writes shared by the repositories: `UPDATE <table> SET ... WHERE id = ?` for the
 * given columns, and a name-clash probe. Table and column names come from code, never from input.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export type Table = 'orgs' | 'teams' | 'targets' | 'access_groups' | 'users' | 'service_accounts' | 'keys';

/** `SET a = @a, b = @b` for the given columns. */
export function setClause(columns: Record<string, unknown>): string {
  return Object.keys(columns)
    .map((column) => `${column} = @${column}`)
    .join(', ');
}

/** Updates the given columns of one row (nothing when `columns` is empty). */
export function updateRow(db: Database, table: Table, id: string, columns: Record<string, unknown>): void {
  if (Object.keys(columns).length === 0) return;
  prepared(db, `UPDATE ${table} SET ${setClause(columns)} WHERE id = @id`).run({ ...columns, id });
}

/** Reads one row by id. */
export function findRow<T>(db: Database, table: Table, id: string): T | undefined {
  return prepared(db, `SELECT * FROM ${table} WHERE id = ?`).get(id) as T | undefined;
}

/**
 * Whether another row of `table` (not `exceptId`) already has `name` within `scope`: an extra
 * condition such as `org_id = @org` with its parameters (no scope = the whole table).
 */
export function nameTaken(
  db: Database,
  table: Table,
  name: string,
  exceptId: string | null,
  scope: { where: string; params: Record<string, unknown> } = { where: '1', params: {} },
): boolean {
  const sql = `SELECT 1 FROM ${table} WHERE name = @name AND id IS NOT @exceptId AND (${scope.where}) LIMIT 1`;
  return prepared(db, sql).get({ ...scope.params, name, exceptId }) !== undefined;
}

/** A row reader for paginate(): runs `sql` (built by the list's repository helper) with `params`. */
export function queryRows<T>(db: Database): (sql: string, params: unknown[]) => T[] {
  return (sql, params) => prepared(db, sql).all(...params) as T[];
}
