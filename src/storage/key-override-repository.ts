/** Temporary key overrides in SQLite (`key_overrides`, issue 14 item 5): limits JSON with an expiry. */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export interface OverrideRow {
  id: string;
  key_id: string;
  limits: string;
  expires_at: number;
  reason: string | null;
  created_by: string | null;
  created_at: number;
}

export function insertKeyOverride(db: Database, row: OverrideRow): void {
  prepared(
    db,
    `INSERT INTO key_overrides (id, key_id, limits, expires_at, reason, created_by, created_at)
     VALUES (@id, @key_id, @limits, @expires_at, @reason, @created_by, @created_at)`,
  ).run(row);
}

/** The key's override `id` (undefined when missing or another key's). */
export function findKeyOverride(db: Database, keyId: string, id: string): OverrideRow | undefined {
  return prepared(db, 'SELECT * FROM key_overrides WHERE id = ? AND key_id = ?').get(id, keyId) as
    OverrideRow | undefined;
}

export function deleteKeyOverride(db: Database, id: string): void {
  prepared(db, 'DELETE FROM key_overrides WHERE id = ?').run(id);
}

/** The key's overrides still running at `now`, newest first (the first one applies). */
export function activeKeyOverrides(db: Database, keyId: string, now: number): OverrideRow[] {
  return prepared(
    db,
    'SELECT * FROM key_overrides WHERE key_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC',
  ).all(keyId, now) as OverrideRow[];
}
