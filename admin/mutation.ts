/**
 * Every admin mutation runs through `mutate`: one `BEGIN IMMEDIATE` transaction holding the
 * change itself, its audit row and (when a gateway decision can change) its change-log row.
 * The change-log rows it wrote are published to the gateways only after the commit
 * (InvalidationBus), and never block the response.
 */
import type { Context } from 'hono';
import type { Change, ChangeEntity } from '../src/invalidation/change.js';
import { immediate } from '../src/storage/database.js';
import { recordAudit, recordChange, type AuditEntry } from '../src/storage/journal.js';
import type { AdminDeps, AdminEnv } from './context.js';

export interface Journal {
  readonly now: number;
  audit(entry: Omit<AuditEntry, 'actor' | 'requestId' | 'at'>): void;
  change(entityType: ChangeEntity, entityId: string, tokenHashes?: readonly string[]): number;
}

export function mutate<T>(deps: AdminDeps, c: Context<AdminEnv>, fn: (journal: Journal) => T): T {
  const access = c.get('access');
  const requestId = c.get('requestId');
  const changes: Change[] = [];
  const now = deps.clock.now();
  const journal: Journal = {
    now,
    audit: (entry) => recordAudit(deps.db, { ...entry, actor: access.auditActor, requestId, at: now }),
    change: (entityType, entityId, tokenHashes) => {
      const seq = recordChange(deps.db, { entityType, entityId, tokenHashes, at: now });
      changes.push({ seq, at: now, entityType, entityId, tokenHashes: [...(tokenHashes ?? [])] });
      return seq;
    },
  };
  const result = immediate(deps.db, () => fn(journal));
  const last = changes[changes.length - 1];
  if (last !== undefined) deps.invalidation.publish({ seq: last.seq, changes });
  return result;
}
