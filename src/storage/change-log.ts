/**
 * The change log (DESIGN.md "Change log"): every admin mutation that can alter a gateway decision
 * appends one row in its own transaction; gateways read it after a seq (the change feed) and the
 * pusher sends new rows. This is the one place its SQL lives: `head`, `append`, `readAfter`,
 * `atOrBefore`.
 */
import type { Change, ChangeEntity } from '../invalidation/change.js';
import type { Database } from './database.js';
import { prepared } from './statements.js';

interface ChangeRow {
  seq: number;
  at: number;
  entity_type: ChangeEntity;
  entity_id: string;
  token_hashes: string;
}

/** The highest seq written so far (0 for an empty log). */
export function changeLogHead(db: Database): number {
  return (prepared(db, 'SELECT IFNULL(MAX(seq), 0) AS head FROM change_log').get() as { head: number }).head;
}

/** Appends a change-log row and returns its seq. Call inside the mutation's transaction. */
export function appendChange(
  db: Database,
  change: { entityType: ChangeEntity; entityId: string; tokenHashes?: readonly string[]; at: number },
): number {
  const result = prepared(
    db,
    'INSERT INTO change_log (at, entity_type, entity_id, token_hashes) VALUES (?, ?, ?, ?)',
  ).run(change.at, change.entityType, change.entityId, JSON.stringify(change.tokenHashes ?? []));
  return Number(result.lastInsertRowid);
}

/** Up to `limit` changes with seq > `after`, in seq order. */
export function readChangesAfter(db: Database, after: number, limit: number): Change[] {
  const rows = prepared(db, 'SELECT * FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?').all(
    after,
    limit,
  ) as ChangeRow[];
  return rows.map(changeOf);
}

/** The last change with seq <= `seq` (one primary-key lookup), null when there is none. */
export function changeAtOrBefore(db: Database, seq: number): Change | null {
  const row = prepared(db, 'SELECT * FROM change_log WHERE seq <= ? ORDER BY seq DESC LIMIT 1').get(seq) as
    ChangeRow | undefined;
  return row === undefined ? null : changeOf(row);
}

function changeOf(row: ChangeRow): Change {
  return {
    seq: row.seq,
    at: row.at,
    entityType: row.entity_type,
    entityId: row.entity_id,
    tokenHashes: JSON.parse(row.token_hashes) as string[],
  };
}
