/**
 * Callable targets in SQLite: the one TargetRow type, the tag column codec and every query the
 * admin plane runs on the `targets` table (admin routes, the gateway catalog, access resolution).
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export interface TargetRow {
  id: string;
  name: string;
  base_url: string;
  upstream_model: string | null;
  api_key_env: string | null;
  input_micros_per_mtok: number;
  output_micros_per_mtok: number;
  /** JSON array of strings (parseTags / encodeTags). */
  tags: string;
  created_at: number;
  updated_at: number;
}

/** Column values of a target write (absent fields are left unchanged on update). */
export type TargetColumns = Partial<Omit<TargetRow, 'id' | 'created_at'>>;

/** The tags of a JSON tag column (null, empty or malformed entries → dropped). */
export function parseTags(text: string | null): string[] {
  if (text === null || text === '') return [];
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter((t): t is string => typeof t === 'string') : [];
}

/** The tag column for `tags`: de-duplicated, order kept. */
export function encodeTags(tags: readonly string[]): string {
  return JSON.stringify([...new Set(tags)]);
}

export function findTarget(db: Database, id: string): TargetRow | undefined {
  return prepared(db, 'SELECT * FROM targets WHERE id = ?').get(id) as TargetRow | undefined;
}

export function findTargetIdByName(db: Database, name: string): string | undefined {
  return (prepared(db, 'SELECT id FROM targets WHERE name = ?').get(name) as { id: string } | undefined)?.id;
}

/** Every target ordered by name (the gateway catalog, group member listings). */
export function allTargets(db: Database): TargetRow[] {
  return prepared(db, 'SELECT * FROM targets ORDER BY name').all() as TargetRow[];
}

export function insertTarget(db: Database, row: TargetRow): void {
  prepared(
    db,
    `INSERT INTO targets (id, name, base_url, upstream_model, api_key_env, input_micros_per_mtok,
       output_micros_per_mtok, tags, created_at, updated_at)
     VALUES (@id, @name, @base_url, @upstream_model, @api_key_env, @input_micros_per_mtok,
       @output_micros_per_mtok, @tags, @created_at, @updated_at)`,
  ).run(row);
}

/** Deletes the target; its bindings and explicit group memberships go with it (ON DELETE CASCADE). */
export function deleteTarget(db: Database, id: string): void {
  prepared(db, 'DELETE FROM targets WHERE id = ?').run(id);
}

/** The list filter of `GET /v1/targets` (optionally by tag), for paginate(). */
export function targetListQuery(tag: string | undefined): { sql: string; params: unknown[] } {
  return tag === undefined
    ? { sql: 'SELECT * FROM targets WHERE 1', params: [] }
    : {
        sql: 'SELECT * FROM targets WHERE EXISTS (SELECT 1 FROM json_each(targets.tags) WHERE value = ?)',
        params: [tag],
      };
}
