/**
 * `?limit=&cursor=` lists (API.md): stable order by (created_at, id); the cursor is opaque. The
 * keyset SQL of a page is appended here, in the storage layer, so route files hold no SQL.
 */
export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

const DEFAULT_LIMIT = 100;

function decodeCursor(cursor: string | undefined): { createdAt: number; id: string } | null {
  if (cursor === undefined || cursor === '') return null;
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('\n');
  const at = Number(createdAt);
  if (!Number.isSafeInteger(at) || id === undefined || id === '') return null;
  return { createdAt: at, id };
}

/**
 * Appends the cursor condition and order to `sql` (which must already have a WHERE clause, even
 * `WHERE 1`) for a table aliased `alias`, and returns the page of rows.
 */
export function paginate<Row extends { id: string; created_at: number }>(
  run: (sql: string, params: unknown[]) => Row[],
  sql: string,
  params: unknown[],
  request: PageRequest,
  alias = '',
): { rows: Row[]; next_cursor: string | null } {
  const limit = request.limit ?? DEFAULT_LIMIT;
  const cursor = decodeCursor(request.cursor);
  const col = (name: string) => (alias === '' ? name : `${alias}.${name}`);
  let query = sql;
  const args = [...params];
  if (cursor !== null) {
    query += ` AND (${col('created_at')} > ? OR (${col('created_at')} = ? AND ${col('id')} > ?))`;
    args.push(cursor.createdAt, cursor.createdAt, cursor.id);
  }
  query += ` ORDER BY ${col('created_at')}, ${col('id')} LIMIT ?`;
  args.push(limit + 1);
  const rows = run(query, args);
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    rows: page,
    next_cursor:
      more && last !== undefined ? Buffer.from(`${last.created_at}\n${last.id}`).toString('base64url') : null,
  };
}
