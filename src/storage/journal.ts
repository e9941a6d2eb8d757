/**
 * Audit and change log writers. Call them inside the same transaction as the mutation they
 * describe: a failed mutation leaves neither row (DESIGN.md "Audit log", "Change log").
 */
import type { ChangeEntity } from '../invalidation/change.js';
import type { Database } from './database.js';

export interface AuditActor {
  type: 'master_key' | 'user' | 'system';
  id: string | null;
}

export interface AuditEntry {
  actor: AuditActor;
  via?: 'admin' | 'self_service' | 'system';
  action: string;
  entityType: string;
  entityId: string;
  orgId?: string | null;
  teamId?: string | null;
  before?: unknown;
  after?: unknown;
  requestId: string | null;
  at: number;
}

export function recordAudit(db: Database, entry: AuditEntry): void {
  db.prepare(
    `INSERT INTO audit_log (at, actor_type, actor_id, via, action, entity_type, entity_id, org_id, team_id, before, after, request_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    entry.at,
    entry.actor.type,
    entry.actor.id,
    entry.via ?? 'admin',
    entry.action,
    entry.entityType,
    entry.entityId,
    entry.orgId ?? null,
    entry.teamId ?? null,
    entry.before === undefined ? null : JSON.stringify(entry.before),
    entry.after === undefined ? null : JSON.stringify(entry.after),
    entry.requestId,
  );
}

/** Appends a change-log row and returns its seq. */
export function recordChange(
  db: Database,
  change: { entityType: ChangeEntity; entityId: string; tokenHashes?: readonly string[]; at: number },
): number {
  const result = db
    .prepare('INSERT INTO change_log (at, entity_type, entity_id, token_hashes) VALUES (?, ?, ?, ?)')
    .run(change.at, change.entityType, change.entityId, JSON.stringify(change.tokenHashes ?? []));
  return Number(result.lastInsertRowid);
}

export function changeLogHead(db: Database): number {
  const row = db.prepare('SELECT IFNULL(MAX(seq), 0) AS head FROM change_log').get() as { head: number };
  return row.head;
}
