/**
 * `PUT|DELETE /v1/orgs/:id/members/:user_id` and `/v1/teams/:id/members/:user_id`: one
 * implementation for both scopes. Memberships are read on every request (admin/auth/access.ts),
 * so a removal takes effect on the caller's next request. Org roles add only users already in the
 * org; owners' memberships are changed by owners; leaving a team revokes one's self-service keys
 * there.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { Permission } from '../../src/policy/permissions.js';
import type { AccessView } from '../auth/access.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate, type Journal } from '../mutation.js';
import { json, ok, security } from '../schemas.js';
import {
  activeSelfServiceKeys,
  deleteMembership,
  findMembership,
  putMembership,
  userExists,
  userInOrg,
} from '../../src/storage/membership-repository.js';
import { markKeyRevoked } from '../../src/storage/key-repository.js';

export interface MembershipScope {
  /** 'org' or 'team': names the table (`<scope>_members`), the id column and the audit entity. */
  scope: 'org' | 'team';
  roles: readonly [string, ...string[]];
  permission: Permission;
  /** The scope object, or 404 when missing or invisible to the caller. */
  find(deps: AdminDeps, access: AccessView, id: string): { id: string; orgId: string };
}

/**
 * Only an org owner (or a platform admin) changes an owner's membership or makes someone an
 * owner, so an org admin cannot demote, remove or replace the owner (issue 10 item 11).
 */
function assertOwnerRule(access: AccessView, orgId: string, roles: readonly (string | undefined)[]): void {
  if (!roles.includes('org_owner') || access.isPlatformAdmin) return;
  if (access.orgRoles.get(orgId) !== 'org_owner') {
    throw new KeygateError('forbidden', { message: "Only an org owner changes an owner's membership." });
  }
}

/**
 * A developer leaving a team loses the self-service keys they made there: revoked (kept for audit
 * and spend history) in the same transaction, each with its audit row and change-log row, so
 * gateways refuse them within the invalidation promise (issue 10 item 10).
 */
function revokeSelfServiceKeys(
  deps: AdminDeps,
  journal: Journal,
  team: { id: string; orgId: string },
  userId: string,
): void {
  for (const key of activeSelfServiceKeys(deps.db, team.id, userId)) {
    markKeyRevoked(deps.db, key.id, journal.now);
    journal.audit({
      action: 'key.revoke',
      entityType: 'key',
      entityId: key.id,
      orgId: team.orgId,
      teamId: team.id,
      before: { status: 'active' },
      after: { status: 'revoked', reason: 'owner_left_team' },
    });
    const hashes =
      key.previous_token_hash === null ? [key.token_hash] : [key.token_hash, key.previous_token_hash];
    journal.change('key', key.id, hashes);
  }
}

const memberParams = z.object({ id: z.string().min(1).max(128), user_id: z.string().min(1).max(128) });

export function registerMembershipRoutes(app: AdminApp, deps: AdminDeps, spec: MembershipScope): void {
  const { scope } = spec;
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
      const access = c.get('access');
      // Only users already in the org may be added by org roles (a platform admin adds anyone);
      // an unknown id and a user of another org answer the same 404 (issue 10 item 12).
      const known = access.isPlatformAdmin
        ? userExists(deps.db, userId)
        : userInOrg(deps.db, object.orgId, userId);
      if (!known) throw new KeygateError('not_found', { param: 'user_id' });
      const membership = mutate(deps, c, (journal) => {
        const found = findMembership(deps.db, scope, object.id, userId);
        const before = found === undefined ? undefined : { role: found.role };
        assertOwnerRule(access, object.orgId, [before?.role, role]);
        putMembership(deps.db, scope, { scopeId: object.id, userId, role, now: journal.now });
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
      const access = c.get('access');
      const object = authorized(access, id);
      mutate(deps, c, (journal) => {
        const before = findMembership(deps.db, scope, object.id, userId);
        if (before === undefined) throw new KeygateError('not_found');
        assertOwnerRule(access, object.orgId, [before.role]);
        deleteMembership(deps.db, scope, object.id, userId);
        if (scope === 'team') revokeSelfServiceKeys(deps, journal, object, userId);
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
