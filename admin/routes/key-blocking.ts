/**
 * Block / unblock (issue 14 item 4): `POST /v1/keys/{id}/block|unblock` pause a key without
 * revoking it (revocation is final), and `POST /v1/users/{id}/block|unblock` pause every key the
 * user owns until unblocked. A blocked key shows `status: "blocked"` (with `blocked_by: "key" |
 * "owner"`) and is refused at the gateway with 401 `key_blocked`; the change-log row names every
 * token hash concerned, so gateways evict them within the invalidation promise.
 *
 * Authority: key admins of the key's team (`key.update`; a self-service owner cannot unblock
 * what an admin blocked); users: platform admins. Blocking twice writes nothing.
 */
import { createRoute } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
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
import { mutate, updateAudited } from '../mutation.js';
import { updateRow } from '../../src/storage/rows.js';
import { findUserBlocked, keyHashesOwnedBy } from '../../src/storage/user-repository.js';
import { idParam, ok, security } from '../schemas.js';

export function registerKeyBlockingRoutes(app: AdminApp, deps: AdminDeps): void {
  const { db } = deps;

  for (const action of ['block', 'unblock'] as const) {
    const blocked = action === 'block' ? 1 : 0;
    app.openapi(
      createRoute({
        method: 'post',
        path: `/v1/keys/{id}/${action}`,
        security,
        request: { params: idParam },
        responses: { 200: ok(`The key, ${action}ed`) },
      }),
      (c) => {
        const access = c.get('access');
        const found = visibleKey(db, access, c.req.valid('param').id);
        keyAuthority(access, found, 'update');
        const after = mutate(deps, c, (journal) => {
          const before = loadKeyRecord(db, found.id);
          if (before === undefined) throw new KeygateError('not_found');
          if (before.status === 'revoked') {
            throw new KeygateError('conflict', { message: `A revoked key cannot be ${action}ed.` });
          }
          if (before.blocked === blocked) return before;
          return updateAudited(journal, {
            before,
            view: (row: KeyRecord) => keyView(db, row, journal.now),
            update: () => updateRow(db, 'keys', before.id, { blocked, updated_at: journal.now }),
            reload: () => loadKeyRecord(db, before.id)!,
            audit: {
              action: `key.${action}`,
              entityType: 'key',
              entityId: before.id,
              orgId: before.org_id,
              teamId: before.team_id,
            },
            change: 'key',
            tokenHashes: tokenHashesOf(before),
          });
        });
        return c.json(keyView(db, after, deps.clock.now()), 200);
      },
    );

    app.openapi(
      createRoute({
        method: 'post',
        path: `/v1/users/{id}/${action}`,
        security,
        request: { params: idParam },
        responses: { 200: ok(`{id, blocked, keys}: the user ${action}ed and how many keys they own`) },
      }),
      (c) => {
        const access = c.get('access');
        if (!access.isPlatformAdmin) throw new KeygateError('forbidden');
        const id = c.req.valid('param').id;
        const result = mutate(deps, c, (journal) => {
          const user = findUserBlocked(db, id);
          if (user === undefined) throw new KeygateError('not_found');
          const keys = keyHashesOwnedBy(db, id);
          if (user.blocked !== blocked) {
            updateRow(db, 'users', id, { blocked, updated_at: journal.now });
            journal.audit({
              action: `user.${action}`,
              entityType: 'user',
              entityId: id,
              before: { blocked: user.blocked === 1 },
              after: { blocked: blocked === 1, keys: keys.length },
            });
            journal.change('user', id, keys.flatMap(tokenHashesOf));
          }
          return { id, blocked: blocked === 1, keys: keys.length };
        });
        return c.json(result, 200);
      },
    );
  }
}
