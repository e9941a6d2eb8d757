/**
 * `PUT|DELETE /v1/orgs/:id/members/:user_id` and `/v1/teams/:id/members/:user_id`: one
 * implementation for both scopes. Memberships are read on every request (admin/auth/access.ts),
 * so a removal takes effect on the caller's next request.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { Permission } from '../../src/policy/permissions.js';
import type { AccessView } from '../auth/access.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate } from '../mutation.js';
import { json, ok, security } from '../schemas.js';

export interface MembershipScope {
  /** 'org' or 'team': names the table (`<scope>_members`), the id column and the audit entity. */
  scope: 'org' | 'team';
  roles: readonly [string, ...string[]];
  permission: Permission;
  /** The scope object, or 404 when missing or invisible to the caller. */
  find(deps: AdminDeps, access: AccessView, id: string): { id: string; orgId: string };
}

const memberParams = z.object({ id: z.string().min(1).max(128), user_id: z.string().min(1).max(128) });

export function registerMembershipRoutes(app: AdminApp, deps: AdminDeps, spec: MembershipScope): void {
  const { scope } = spec;
  const table = `${scope}_members`;
  const column = `${scope}_id`;
  const path = `/v1/${scope}s/{id}/members/{user_id}`;
  const MemberBody = z.object({ role: z.enum(spec.roles) });
  const teamOf = (object: { id: string }) => (scope === 'team' ? object.id : null);

  const authorized = (access: AccessView, id: string) => {
    const object = spec.find(deps, access, id);
    if (!access.can(spec.permission, { orgId: object.orgId, teamId: teamOf(object) })) {
      throw new KeygateError('forbidden');
    }
    return object;
  };

  app.openapi(
    createRoute({
      method: 'put',
      path,
      security,
      request: { params: memberParams, body: json(MemberBody) },
      responses: { 200: ok('The membership') },
    }),
    (c) => {
      const { id, user_id: userId } = c.req.valid('param');
      const object = authorized(c.get('access'), id);
      const { role } = c.req.valid('json');
      if (deps.db.prepare('SELECT id FROM users WHERE id = ?').get(userId) === undefined) {
        throw new KeygateError('not_found', { param: 'user_id' });
      }
      const membership = mutate(deps, c, (journal) => {
        const before = deps.db
          .prepare(`SELECT role FROM ${table} WHERE ${column} = ? AND user_id = ?`)
          .get(object.id, userId);
        deps.db
          .prepare(
            `INSERT INTO ${table} (${column}, user_id, role, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(${column}, user_id) DO UPDATE SET role = excluded.role`,
          )
          .run(object.id, userId, role, journal.now);
        const after =
          scope === 'team'
            ? { team_id: object.id, org_id: object.orgId, user_id: userId, role }
            : { org_id: object.id, user_id: userId, role };
        journal.audit({
          action: `${scope}.member.put`,
          entityType: `${scope}_member`,
          entityId: `${object.id}:${userId}`,
          orgId: object.orgId,
          teamId: teamOf(object),
          before: before ?? null,
          after,
        });
        return after;
      });
      return c.json(membership, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path,
      security,
      request: { params: memberParams },
      responses: { 204: { description: 'Removed' } },
    }),
    (c) => {
      const { id, user_id: userId } = c.req.valid('param');
      const object = authorized(c.get('access'), id);
      mutate(deps, c, (journal) => {
        const before = deps.db
          .prepare(`SELECT * FROM ${table} WHERE ${column} = ? AND user_id = ?`)
          .get(object.id, userId);
        if (before === undefined) throw new KeygateError('not_found');
        deps.db.prepare(`DELETE FROM ${table} WHERE ${column} = ? AND user_id = ?`).run(object.id, userId);
        journal.audit({
          action: `${scope}.member.delete`,
          entityType: `${scope}_member`,
          entityId: `${object.id}:${userId}`,
          orgId: object.orgId,
          teamId: teamOf(object),
          before,
        });
      });
      return c.body(null, 204);
    },
  );
}
