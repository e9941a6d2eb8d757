/**
 * The audit log writer. Call it inside the same transaction as the mutation it describes: a
 * failed mutation leaves no row (DESIGN.md "Audit log"). The change log is in change-log.ts.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

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
  prepared(
    db,
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
