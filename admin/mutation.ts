/**
 * Every admin mutation runs through `mutate`: one `BEGIN IMMEDIATE` transaction holding the
 * change itself, its audit row and (when a gateway decision can change) its change-log row.
 * The change-log rows it wrote are published to the gateways only after the commit
 * (InvalidationBus), and never block the response.
 */
import type { Context } from 'hono';
import type { Change, ChangeEntity } from '../src/invalidation/change.js';
import { immediate } from '../src/storage/database.js';
import { appendChange } from '../src/storage/change-log.js';
import { recordAudit, type AuditEntry } from '../src/storage/journal.js';
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
      const seq = appendChange(deps.db, { entityType, entityId, tokenHashes, at: now });
      changes.push({ seq, at: now, entityType, entityId, tokenHashes: [...(tokenHashes ?? [])] });
      return seq;
    },
  };
  const result = immediate(deps.db, () => fn(journal));
  const last = changes[changes.length - 1];
  if (last !== undefined) deps.invalidation.publish({ seq: last.seq, changes });
  return result;
}

/** What an update's audit row says besides before/after (actor, request id and time come from the journal). */
export type AuditSubject = Omit<AuditEntry, 'actor' | 'requestId' | 'at' | 'before' | 'after'>;

/**
 * The read-before → update → read-after → audit + change pattern of every update, in one place:
 * renders `before` with `view`, runs `update`, re-reads the row, writes the audit row (before and
 * after views) and, when `change` names an entity type, the change-log row for the same id
 * (with `tokenHashes`).
 * Call inside `mutate`.
 */
export function updateAudited<Row>(
  journal: Journal,
  spec: {
    before: Row;
    view: (row: Row) => unknown;
    update: () => void;
    reload: () => Row;
    audit: AuditSubject;
    change?: ChangeEntity;
    /** Token hashes the change-log row names (keys: every hash the key answered to). */
    tokenHashes?: readonly string[];
  },
): Row {
  const beforeView = spec.view(spec.before);
  spec.update();
  const after = spec.reload();
  journal.audit({ ...spec.audit, before: beforeView, after: spec.view(after) });
  if (spec.change !== undefined) journal.change(spec.change, spec.audit.entityId, spec.tokenHashes);
  return after;
}
