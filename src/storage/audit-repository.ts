/** Reading the audit log (writing is journal.ts's recordAudit, inside each mutation). */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export interface AuditRow {
  id: number;
  at: number;
  actor_type: string;
  actor_id: string | null;
  via: string;
  action: string;
  entity_type: string;
  entity_id: string;
  org_id: string | null;
  team_id: string | null;
  before: string | null;
  after: string | null;
  request_id: string | null;
}

export type AuditFilterField = 'entity_type' | 'entity_id' | 'actor_id' | 'org_id' | 'team_id';

/**
 * Audit rows newest first: only rows of `readable` orgs/teams (or all), matching every `equals`
 * field, with id below `beforeId` (the cursor); at most `limit` rows.
 */
export function readAudit(
  db: Database,
  filter: {
    readable: { orgIds: readonly string[]; teamIds: readonly string[] } | 'all';
    equals: Partial<Record<AuditFilterField, string>>;
    beforeId: number | undefined;
    limit: number;
  },
): AuditRow[] {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter.readable !== 'all') {
    const list = (ids: readonly string[]) => ids.map(() => '?').join(',') || "''";
    conditions.push(
      `(org_id IN (${list(filter.readable.orgIds)}) OR team_id IN (${list(filter.readable.teamIds)}))`,
    );
    params.push(...filter.readable.orgIds, ...filter.readable.teamIds);
  }
  for (const field of ['entity_type', 'entity_id', 'actor_id', 'org_id', 'team_id'] as const) {
    const value = filter.equals[field];
    if (value !== undefined) {
      conditions.push(`${field} = ?`);
      params.push(value);
    }
  }
  if (filter.beforeId !== undefined) {
    conditions.push('id < ?');
    params.push(filter.beforeId);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  return prepared(db, `SELECT * FROM audit_log ${where} ORDER BY id DESC LIMIT ?`).all(
    ...params,
    filter.limit,
  ) as AuditRow[];
}
