/**
 * Keys in SQLite: the key record query (a key joined with its team, org and owner names), the
 * list of `GET /v1/keys`, and the key writes besides the generic row helpers (rows.ts).
 * Row types stay with their views (admin/keys/key-record.ts); readers here are generic over them.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

/** `SELECT` of key records; the key table is aliased `k`, teams `t`, owning users `u`. Append `WHERE ...`. */
export const KEY_RECORD_SELECT = `
  SELECT k.*, t.name AS team_name, t.org_id AS org_id,
         u.name AS owner_user_name, u.email AS owner_user_email, sa.name AS owner_sa_name,
         u.blocked AS owner_blocked
  FROM keys k
  JOIN teams t ON t.id = k.team_id
  LEFT JOIN users u ON u.id = k.owner_user_id
  LEFT JOIN service_accounts sa ON sa.id = k.owner_service_account_id`;

export function findKeyRecord<T>(db: Database, id: string): T | undefined {
  return prepared(db, `${KEY_RECORD_SELECT} WHERE k.id = ?`).get(id) as T | undefined;
}

/** The list of `GET /v1/keys` (alias `k`, for paginate) under a filter over `k`, `t` and `u`. */
export function keyListQuery(filter: { sql: string; params: unknown[] }): { sql: string; params: unknown[] } {
  return { sql: `${KEY_RECORD_SELECT} WHERE ${filter.sql}`, params: filter.params };
}

/** Inserts a key row from its columns (column names come from code). */
export function insertKey(db: Database, columns: Record<string, unknown>): void {
  const names = Object.keys(columns);
  prepared(
    db,
    `INSERT INTO keys (${names.join(', ')}) VALUES (${names.map((column) => `@${column}`).join(', ')})`,
  ).run(columns);
}

/** Gives the key a new token; the previous one keeps answering until `previousValidUntil` (or not at all). */
export function replaceKeyToken(
  db: Database,
  id: string,
  token: {
    tokenHash: string;
    display: string;
    previousTokenHash: string | null;
    previousValidUntil: number | null;
    now: number;
  },
): void {
  prepared(
    db,
    `UPDATE keys SET token_hash = ?, display = ?, previous_token_hash = ?, previous_valid_until = ?,
       updated_at = ? WHERE id = ?`,
  ).run(token.tokenHash, token.display, token.previousTokenHash, token.previousValidUntil, token.now, id);
}

export function markKeyRevoked(db: Database, keyId: string, now: number): void {
  prepared(db, "UPDATE keys SET status = 'revoked', updated_at = ? WHERE id = ?").run(now, keyId);
}

/** Deletes the key and its own access bindings. */
export function deleteKey(db: Database, id: string): void {
  prepared(db, "DELETE FROM access_bindings WHERE scope_type = 'key' AND scope_id = ?").run(id);
  prepared(db, 'DELETE FROM keys WHERE id = ?').run(id);
}

/** Active, unexpired keys the user owns in the team (the self-service maximum counts these). */
export function countActiveOwnKeys(db: Database, teamId: string, userId: string, now: number): number {
  const row = prepared(
    db,
    `SELECT COUNT(*) AS n FROM keys
     WHERE team_id = ? AND owner_type = 'user' AND owner_user_id = ? AND status = 'active'
       AND (expires_at IS NULL OR expires_at > ?)`,
  ).get(teamId, userId, now) as { n: number };
  return row.n;
}
