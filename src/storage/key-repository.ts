/**
 * Keys in SQLite: the key record query (a key joined with its team, org and owner names), the
 * list of `GET /v1/keys`, and the key writes besides the generic row helpers (rows.ts).
 * Row types stay with their views (admin/keys/key-record.ts); readers here are generic over them.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

/**
 * `SELECT` of key records; the key table is aliased `k`, its usage row (migration 7) `ku`, teams
 * `t`, owning users `u`. Append `WHERE ...`.
 */
export const KEY_RECORD_SELECT = `
  SELECT k.*, IFNULL(ku.spend_micros, 0) AS spend_micros, ku.last_used_at,
         IFNULL(ku.period_spend_micros, 0) AS period_spend_micros, ku.period_start,
         t.name AS team_name, t.org_id AS org_id,
         u.name AS owner_user_name, u.email AS owner_user_email, sa.name AS owner_sa_name,
         u.blocked AS owner_blocked
  FROM keys k
  LEFT JOIN key_usage ku ON ku.key_id = k.id
  JOIN teams t ON t.id = k.team_id
  LEFT JOIN users u ON u.id = k.owner_user_id
  LEFT JOIN service_accounts sa ON sa.id = k.owner_service_account_id`;

export function findKeyRecord<T>(db: Database, id: string): T | undefined {
  return prepared(db, `${KEY_RECORD_SELECT} WHERE k.id = ?`).get(id) as T | undefined;
}

/** Where the caller holds a permission: everywhere, or in these orgs (all their teams) and teams. */
export type KeyScopes = 'all' | { orgIds: readonly string[]; teamIds: readonly string[] };

/**
 * What `GET /v1/keys` lists (admin/keys/key-list.ts builds it from the caller's access):
 * `view=all` = keys in `read` scopes plus the caller's own keys in `self` scopes; `view=mine` =
 * the caller's own keys in `read` or `self` scopes; then the optional narrowing filters.
 */
export interface KeyListFilter {
  view: 'all' | 'mine';
  userId: string | null;
  read: KeyScopes;
  self: KeyScopes;
  teamId?: string | undefined;
  status?: 'active' | 'blocked' | 'revoked' | undefined;
  q?: string | undefined;
  tag?: string | undefined;
}

interface Clause {
  sql: string;
  params: unknown[];
}

function within(scopes: KeyScopes): Clause {
  if (scopes === 'all') return { sql: '1', params: [] };
  const parts: string[] = [];
  if (scopes.orgIds.length > 0) parts.push(`t.org_id IN (${scopes.orgIds.map(() => '?').join(',')})`);
  if (scopes.teamIds.length > 0) parts.push(`k.team_id IN (${scopes.teamIds.map(() => '?').join(',')})`);
  return {
    sql: parts.length === 0 ? '0' : `(${parts.join(' OR ')})`,
    params: [...scopes.orgIds, ...scopes.teamIds],
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** The shown status (key-record.ts `keyStatus`): revoked > blocked (key or owner) > active. */
function statusClause(status: 'active' | 'blocked' | 'revoked'): Clause {
  const blocked = '(k.blocked = 1 OR IFNULL(u.blocked, 0) = 1)';
  if (status === 'revoked') return { sql: "k.status = 'revoked'", params: [] };
  if (status === 'blocked') return { sql: `(k.status = 'active' AND ${blocked})`, params: [] };
  return { sql: `(k.status = 'active' AND NOT ${blocked})`, params: [] };
}

/** The list of `GET /v1/keys` (alias `k`, for paginate). */
export function keyListQuery(filter: KeyListFilter): { sql: string; params: unknown[] } {
  const read = within(filter.read);
  const self = within(filter.self);
  const own: Clause =
    filter.userId === null
      ? { sql: '0', params: [] }
      : { sql: "(k.owner_type = 'user' AND k.owner_user_id = ?)", params: [filter.userId] };
  const parts: Clause[] = [];
  if (filter.view === 'all') {
    parts.push({
      sql: `(${read.sql} OR (${own.sql} AND ${self.sql}))`,
      params: [...read.params, ...own.params, ...self.params],
    });
  } else {
    parts.push({
      sql: `(${own.sql} AND (${read.sql} OR ${self.sql}))`,
      params: [...own.params, ...read.params, ...self.params],
    });
  }
  if (filter.teamId !== undefined) parts.push({ sql: 'k.team_id = ?', params: [filter.teamId] });
  if (filter.status !== undefined) parts.push(statusClause(filter.status));
  if (filter.tag !== undefined)
    parts.push({ sql: 'EXISTS (SELECT 1 FROM json_each(k.tags) WHERE value = ?)', params: [filter.tag] });
  if (filter.q !== undefined && filter.q !== '') {
    const pattern = `%${escapeLike(filter.q)}%`;
    parts.push({
      sql: "(k.name LIKE ? ESCAPE '\\' OR k.display LIKE ? ESCAPE '\\')",
      params: [pattern, pattern],
    });
  }
  return {
    sql: `${KEY_RECORD_SELECT} WHERE ${parts.map((p) => p.sql).join(' AND ')}`,
    params: parts.flatMap((p) => p.params),
  };
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
