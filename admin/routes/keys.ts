/**
 * Keys (API.md "Keys", issues 2 and 5): create (secret shown once), list (All Keys / My Keys),
 * get, update, regenerate with a grace period, revoke (record kept), delete.
 *
 * Authority: `key.create|read|update|revoke|delete` in the team's scope make an admin action.
 * A caller whose only key permission on the team is `key.create_self` acts under self-service:
 * the owner is forced to the caller, the team's self-service policy is checked in the insert's
 * transaction (admin/keys/self-service.ts), narrowing access is refused with 403 (self-service
 * keys inherit the team's asset set), and only their own keys exist for them (others' → 404);
 * they may regenerate, revoke and delete those, but not PATCH them (403), since an update could
 * lift the policy's bounds. Audit rows carry `via: "self_service"` for such actions.
 *
 * Every mutation writes `change('key', id, hashes)` with every token hash the key answered to
 * before and after it, so gateways evict each of them.
 */
import { createRoute } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import { displaySecret, generateSecret, hashSecret } from '../../src/keys/secret.js';
import type { Database } from '../../src/storage/database.js';
import { writeAccess } from '../access-bindings.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import {
  keyAuthority,
  keyView,
  loadKeyRecord,
  tokenHashesOf,
  visibleKey,
  type KeyRecord,
} from '../keys/key-record.js';
import {
  KeyCreate,
  KeyListQuery,
  KeyRegenerate,
  KeyUpdate,
  metadataText,
  resolveExpiry,
  tagColumns,
} from '../keys/key-input.js';
import { resolveKeyOwner } from '../keys/key-owner.js';
import { keyListFilter } from '../keys/key-list.js';
import {
  enforceSelfServicePolicy,
  TEAM_CAPPED_FIELDS,
  type TeamCappedField,
  type TeamPolicyRow,
} from '../keys/self-service.js';
import { mutate, updateAudited, type AuditSubject, type Journal } from '../mutation.js';
import { paginate } from '../pagination.js';
import { idParam, isShadow, json, limitColumnUpdates, limitValue, ok, security } from '../schemas.js';
import {
  deleteKey,
  insertKey,
  keyListQuery,
  markKeyRevoked,
  replaceKeyToken,
} from '../../src/storage/key-repository.js';
import { findRow, queryRows, updateRow } from '../../src/storage/rows.js';
import { visibleTeam } from './teams.js';

/** The audit row and the change-log row of one key mutation (written in its transaction). */
function recordKeyChange(
  journal: Journal,
  entry: {
    action: string;
    via?: 'admin' | 'self_service';
    key: { id: string; org_id: string; team_id: string };
    before?: unknown;
    after?: unknown;
    hashes: readonly string[];
  },
): void {
  journal.audit({
    action: entry.action,
    via: entry.via,
    entityType: 'key',
    entityId: entry.key.id,
    orgId: entry.key.org_id,
    teamId: entry.key.team_id,
    before: entry.before,
    after: entry.after,
  });
  journal.change('key', entry.key.id, entry.hashes);
}

/** The audit subject of a key update (updateAudited adds before/after). */
function keyAudit(action: string, key: KeyRecord, via?: 'admin' | 'self_service'): AuditSubject {
  return { action, via, entityType: 'key', entityId: key.id, orgId: key.org_id, teamId: key.team_id };
}

/** A key's team, or 404 naming `team_id` when missing or invisible. */
const NO_SUCH_TEAM = { param: 'team_id', message: 'No such team.' };

/** Re-reads a key inside a mutation (it may have been deleted since the visibility check). */
function current(db: Database, id: string): KeyRecord {
  const row = loadKeyRecord(db, id);
  if (row === undefined) throw new KeygateError('not_found');
  return row;
}

export function registerKeyRoutes(app: AdminApp, deps: AdminDeps): void {
  const { db } = deps;
  const view = (row: KeyRecord) => keyView(db, row, deps.clock.now());

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/keys',
      security,
      request: { body: json(KeyCreate) },
      responses: { 201: ok('The created key and its secret (shown only here)') },
    }),
    (c) => {
      const access = c.get('access');
      const body = c.req.valid('json');
      const team = visibleTeam(deps, access, body.team_id, NO_SUCH_TEAM);
      const scope = { orgId: team.org_id, teamId: team.id };
      // The self-service owner (the caller), or null for an admin create.
      let selfOwner: string | null = null;
      if (!access.can('key.create', scope)) {
        if (!access.can('key.create_self', scope) || access.userId === null)
          throw new KeygateError('forbidden');
        selfOwner = access.userId;
      }
      const selfService = selfOwner !== null;
      if (selfService && body.access?.mode === 'restrict') {
        throw new KeygateError('forbidden', {
          param: 'access',
          message: "Self-service keys inherit the team's asset set; ask a team admin to narrow a key.",
        });
      }
      const metadata = metadataText(body.metadata ?? {});
      const secret = generateSecret();
      const tokenHash = hashSecret(secret);
      const id = newId('key');

      const created = mutate(deps, c, (journal) => {
        const now = journal.now;
        const teamNow = findRow<TeamPolicyRow>(db, 'teams', team.id);
        if (teamNow === undefined) throw new KeygateError('not_found', { param: 'team_id' });
        const expiry = resolveExpiry(body, now);
        const limits = limitColumnUpdates(body);
        const maxBudgetMicros = (limits.max_budget_micros as number | undefined) ?? null;
        const capped = Object.fromEntries(
          TEAM_CAPPED_FIELDS.map((f) => [f, limitValue(body[f]) ?? null]),
        ) as Record<TeamCappedField, number | null>;
        if (selfOwner !== null) {
          enforceSelfServicePolicy(
            db,
            teamNow,
            selfOwner,
            {
              maxBudgetMicros,
              budgetShadow: isShadow(body.max_budget),
              budgetPeriod: body.budget_period ?? null,
              limits: capped,
              expiresAt: expiry.value ?? null,
              expiryParam: expiry.param,
            },
            now,
          );
        }
        const owner = selfService
          ? { ownerType: 'user' as const, userId: selfOwner, serviceAccountId: null }
          : resolveKeyOwner(deps, access, teamNow, body.owner, journal);
        const columns: Record<string, unknown> = {
          id,
          name: body.name,
          team_id: teamNow.id,
          owner_type: owner.ownerType,
          owner_user_id: owner.userId,
          owner_service_account_id: owner.serviceAccountId,
          token_hash: tokenHash,
          display: displaySecret(secret),
          ...limits,
          ...tagColumns(body),
          expires_at: expiry.value ?? null,
          metadata,
          self_service: selfService ? 1 : 0,
          created_by: access.userId,
          created_at: now,
          updated_at: now,
        };
        insertKey(db, columns);
        if (!selfService && body.access !== undefined) writeAccess(db, 'key', id, body.access);
        const row = current(db, id);
        recordKeyChange(journal, {
          action: 'key.create',
          via: selfService ? 'self_service' : 'admin',
          key: row,
          after: view(row),
          hashes: [tokenHash],
        });
        return row;
      });
      return c.json({ key: view(created), secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/keys',
      security,
      request: { query: KeyListQuery },
      responses: {
        200: ok('Keys: view=all (every key the caller may see) or view=mine (owned by the caller)'),
      },
    }),
    (c) => {
      const access = c.get('access');
      const query = c.req.valid('query');
      if (query.team_id !== undefined) visibleTeam(deps, access, query.team_id, NO_SUCH_TEAM);
      const list = keyListQuery(keyListFilter(access, query));
      const page = paginate(queryRows<KeyRecord>(db), list.sql, list.params, query, 'k');
      return c.json({ data: page.rows.map((row) => view(row)), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/keys/{id}',
      security,
      request: { params: idParam },
      responses: { 200: ok('The key') },
    }),
    (c) => c.json(view(visibleKey(db, c.get('access'), c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/keys/{id}',
      security,
      request: { params: idParam, body: json(KeyUpdate) },
      responses: { 200: ok('The updated key') },
    }),
    (c) => {
      const access = c.get('access');
      const found = visibleKey(db, access, c.req.valid('param').id);
      keyAuthority(access, found, 'update');
      const body = c.req.valid('json');
      const metadata = body.metadata === undefined ? undefined : metadataText(body.metadata);
      const updated = mutate(deps, c, (journal) => {
        const before = current(db, found.id);
        const columns: Record<string, unknown> = {
          ...limitColumnUpdates(body, before.limit_modes),
          ...tagColumns(body),
          updated_at: journal.now,
        };
        if (body.name !== undefined) columns.name = body.name;
        if (metadata !== undefined) columns.metadata = metadata;
        const expiry = resolveExpiry(body, journal.now);
        if (expiry.value !== undefined) columns.expires_at = expiry.value;
        return updateAudited(journal, {
          before,
          view,
          update: () => {
            updateRow(db, 'keys', before.id, columns);
            if (body.access !== undefined) writeAccess(db, 'key', before.id, body.access);
          },
          reload: () => current(db, before.id),
          audit: keyAudit('key.update', before),
          change: 'key',
          tokenHashes: tokenHashesOf(before),
        });
      });
      return c.json(view(updated), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/keys/{id}/regenerate',
      security,
      request: {
        params: idParam,
        body: { content: { 'application/json': { schema: KeyRegenerate } }, required: false },
      },
      responses: { 200: ok('The key and its new secret (shown only here)') },
    }),
    (c) => {
      const access = c.get('access');
      const found = visibleKey(db, access, c.req.valid('param').id);
      const authority = keyAuthority(access, found, 'regenerate');
      const graceSeconds = c.req.valid('json').grace_period_seconds ?? 0;
      const secret = generateSecret();
      const tokenHash = hashSecret(secret);
      const updated = mutate(deps, c, (journal) => {
        const before = current(db, found.id);
        if (before.status === 'revoked') {
          throw new KeygateError('conflict', { message: 'A revoked key cannot be regenerated.' });
        }
        const beforeView = view(before);
        const inGrace = graceSeconds > 0;
        replaceKeyToken(db, before.id, {
          tokenHash,
          display: displaySecret(secret),
          previousTokenHash: inGrace ? before.token_hash : null,
          previousValidUntil: inGrace ? journal.now + graceSeconds * 1000 : null,
          now: journal.now,
        });
        const after = current(db, before.id);
        recordKeyChange(journal, {
          action: 'key.regenerate',
          via: authority,
          key: before,
          before: beforeView,
          after: { ...view(after), grace_period_seconds: graceSeconds },
          hashes: [...tokenHashesOf(before), tokenHash],
        });
        return after;
      });
      return c.json({ key: view(updated), secret }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/keys/{id}/revoke',
      security,
      request: { params: idParam },
      responses: { 200: ok('The revoked key (kept for audit and spend history)') },
    }),
    (c) => {
      const access = c.get('access');
      const found = visibleKey(db, access, c.req.valid('param').id);
      const authority = keyAuthority(access, found, 'revoke');
      const revoked = mutate(deps, c, (journal) => {
        const before = current(db, found.id);
        // Revoking twice changes nothing, so it writes nothing.
        if (before.status === 'revoked') return before;
        return updateAudited(journal, {
          before,
          view,
          update: () => markKeyRevoked(db, before.id, journal.now),
          reload: () => current(db, before.id),
          audit: keyAudit('key.revoke', before, authority),
          change: 'key',
          tokenHashes: tokenHashesOf(before),
        });
      });
      return c.json(view(revoked), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/keys/{id}',
      security,
      request: { params: idParam },
      responses: { 204: { description: 'Deleted' } },
    }),
    (c) => {
      const access = c.get('access');
      const found = visibleKey(db, access, c.req.valid('param').id);
      const authority = keyAuthority(access, found, 'delete');
      mutate(deps, c, (journal) => {
        const before = current(db, found.id);
        const beforeView = view(before);
        deleteKey(db, before.id);
        recordKeyChange(journal, {
          action: 'key.delete',
          via: authority,
          key: before,
          before: beforeView,
          hashes: tokenHashesOf(before),
        });
      });
      return c.body(null, 204);
    },
  );
}
