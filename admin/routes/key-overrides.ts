/**
 * `POST /v1/keys/{id}/overrides`, `GET /v1/keys/{id}/overrides`, `DELETE
 * /v1/keys/{id}/overrides/{override_id}` (issue 14 item 5): temporary limits that lapse by
 * themselves at `expires_at` (admin/keys/key-overrides.ts). Creating and ending one is audited
 * and written to the change log with the key's hashes, so gateways reload the key's policy.
 * Authority: key admins of the key's team (`key.update`).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import {
  OverrideCreate,
  activeOverrides,
  overrideLimits,
  overrideView,
  type OverrideRow,
} from '../keys/key-overrides.js';
import { keyAuthority, tokenHashesOf, visibleKey } from '../keys/key-record.js';
import { mutate } from '../mutation.js';
import {
  deleteKeyOverride,
  findKeyOverride,
  insertKeyOverride,
} from '../../src/storage/key-override-repository.js';
import { idParam, json, ok, security } from '../schemas.js';

export function registerKeyOverrideRoutes(app: AdminApp, deps: AdminDeps): void {
  const { db } = deps;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/keys/{id}/overrides',
      security,
      request: { params: idParam, body: json(OverrideCreate) },
      responses: { 201: ok('The override') },
    }),
    (c) => {
      const access = c.get('access');
      const key = visibleKey(db, access, c.req.valid('param').id);
      keyAuthority(access, key, 'update');
      const body = c.req.valid('json');
      const limits = overrideLimits(body);
      if (Object.keys(limits).length === 0) {
        throw new KeygateError('invalid_request', { message: 'An override sets at least one limit.' });
      }
      const expiresAt = Date.parse(body.expires_at);
      const row = mutate(deps, c, (journal) => {
        if (!(expiresAt > journal.now)) {
          throw new KeygateError('invalid_request', {
            param: 'expires_at',
            message: 'expires_at must be in the future.',
          });
        }
        if (key.status === 'revoked') throw new KeygateError('conflict', { message: 'The key is revoked.' });
        const created: OverrideRow = {
          id: newId('ovr'),
          key_id: key.id,
          limits: JSON.stringify(limits),
          expires_at: expiresAt,
          reason: body.reason ?? null,
          created_by: access.userId,
          created_at: journal.now,
        };
        insertKeyOverride(db, created);
        journal.audit({
          action: 'key.override.create',
          entityType: 'key',
          entityId: key.id,
          orgId: key.org_id,
          teamId: key.team_id,
          after: overrideView(created),
        });
        journal.change('key', key.id, tokenHashesOf(key));
        return created;
      });
      return c.json(overrideView(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/keys/{id}/overrides',
      security,
      request: { params: idParam },
      responses: { 200: ok('{data}: the overrides still running, newest (applying) first') },
    }),
    (c) => {
      const key = visibleKey(db, c.get('access'), c.req.valid('param').id);
      return c.json({ data: activeOverrides(db, key.id, deps.clock.now()).map(overrideView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/keys/{id}/overrides/{override_id}',
      security,
      request: { params: idParam.extend({ override_id: z.string().min(1).max(128) }) },
      responses: { 204: { description: 'Ended' } },
    }),
    (c) => {
      const access = c.get('access');
      const params = c.req.valid('param');
      const key = visibleKey(db, access, params.id);
      keyAuthority(access, key, 'update');
      mutate(deps, c, (journal) => {
        const row = findKeyOverride(db, key.id, params.override_id);
        if (row === undefined) throw new KeygateError('not_found', { param: 'override_id' });
        deleteKeyOverride(db, row.id);
        journal.audit({
          action: 'key.override.delete',
          entityType: 'key',
          entityId: key.id,
          orgId: key.org_id,
          teamId: key.team_id,
          before: overrideView(row),
        });
        journal.change('key', key.id, tokenHashesOf(key));
      });
      return c.body(null, 204);
    },
  );
}
