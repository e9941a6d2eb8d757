/**
 * Users and the caller's identity (API.md "Identity and scope").
 * Platform admins create, update, delete users and mint their JWTs. Everyone sees themselves;
 * org owners/admins and team admins also see the members of the orgs/teams they manage
 * (they need them to manage memberships); any other user id answers 404.
 * Deleting a user revokes the keys they own (service-account keys are untouched) and removes
 * their memberships (FK cascade).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import {
  ORG_ROLE_PERMISSIONS,
  TEAM_ROLE_PERMISSIONS,
  type Permission,
} from '../../src/policy/permissions.js';
import type { AccessView, UserRow } from '../auth/access.js';
import { platformAdminOnly } from '../auth/platform-admin-only.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate, updateAudited } from '../mutation.js';
import { paginate } from '../pagination.js';
import { idParam, isoOrNull, json, listQuery, ok, okShaped, security, nameText } from '../schemas.js';
import { markKeyRevoked } from '../../src/storage/key-repository.js';
import { findRow, queryRows, updateRow } from '../../src/storage/rows.js';
import {
  activeKeysOwnedBy,
  deleteUser,
  emailTaken,
  findVisibleUser,
  insertUser,
  orgMembershipsOf,
  teamMembershipsOf,
  teamsOfOrgs,
  userListQuery,
  type UserVisibility,
} from '../../src/storage/user-repository.js';

const PLATFORM_ROLES = ['platform_admin', 'org_user'] as const;
const DEFAULT_TOKEN_TTL_SECONDS = 3600;
const MAX_TOKEN_TTL_SECONDS = 90 * 24 * 3600;

const email = z.string().trim().max(320).pipe(z.email());
const UserCreate = z.object({
  email,
  name: nameText.nullable().optional(),
  platform_role: z.enum(PLATFORM_ROLES).optional(),
});
const UserUpdate = UserCreate.partial();
const TokenBody = z.object({
  ttl_seconds: z.number().int().min(60).max(MAX_TOKEN_TTL_SECONDS).optional(),
});

/** Every permission of the role table: what a platform admin holds everywhere. */
export const ALL_PERMISSIONS: readonly Permission[] = [
  ...new Set([...Object.values(ORG_ROLE_PERMISSIONS).flat(), ...Object.values(TEAM_ROLE_PERMISSIONS).flat()]),
].sort();

/** The user of every user answer (docs/api.md "Identity and scope"); `User` in /openapi.json. */
const User = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    platform_role: z.enum(PLATFORM_ROLES),
    blocked: z.boolean().openapi({
      description:
        'Blocked by POST /v1/users/{id}/block: every key the user owns is refused until unblocked.',
    }),
    created_at: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .openapi('User');

const UserWithMemberships = User.extend({
  memberships: z.object({
    orgs: z.array(z.object({ org_id: z.string(), role: z.string() })),
    teams: z.array(z.object({ team_id: z.string(), org_id: z.string(), role: z.string() })),
  }),
});

export function userView(row: UserRow): z.infer<typeof User> {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    platform_role: row.platform_role,
    blocked: row.blocked === 1,
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
  };
}

/** Orgs and teams where the caller manages members: their members are visible to the caller. */
function managedScopes(access: AccessView): { orgIds: string[]; teamIds: string[] } {
  const orgIds = [...access.orgRoles.keys()].filter((orgId) => access.can('org.members', { orgId }));
  const teamIds = [...access.teamRoles.entries()]
    .filter(([teamId, team]) => access.can('team.members', { orgId: team.orgId, teamId }))
    .map(([teamId]) => teamId);
  return { orgIds, teamIds };
}

/** The users the caller may see: itself and the members of the orgs/teams it manages. */
function userVisibility(access: AccessView): UserVisibility {
  if (access.isPlatformAdmin) return 'all';
  return { userId: access.userId, ...managedScopes(access) };
}

/** The user row, or 404 when missing or not visible to the caller. */
export function visibleUser(deps: AdminDeps, access: AccessView, id: string): UserRow {
  const row = findVisibleUser<UserRow>(deps.db, id, userVisibility(access));
  if (row === undefined) throw new KeygateError('not_found');
  return row;
}

function uniqueEmail(deps: AdminDeps, value: string, exceptId: string | null): void {
  if (emailTaken(deps.db, value, exceptId))
    throw new KeygateError('conflict', {
      param: 'email',
      message: `A user with email "${value}" already exists.`,
    });
}

/** `/v1/me` permissions: per org and per team the caller holds a role in (or inherits one from its org). */
function permissionsOf(deps: AdminDeps, access: AccessView) {
  const orgs: Record<string, Permission[]> = {};
  const teams: Record<string, Permission[]> = {};
  if (access.isPlatformAdmin) return { platform: [...ALL_PERMISSIONS], orgs, teams };
  for (const orgId of access.visibleOrgIds()) orgs[orgId] = [...access.permissions({ orgId })].sort();
  const orgIds = [...access.orgRoles.keys()];
  const scopes = new Map(teamsOfOrgs(deps.db, orgIds).map((row) => [row.id, row.org_id]));
  for (const [teamId, team] of access.teamRoles) scopes.set(teamId, team.orgId);
  for (const [teamId, orgId] of scopes) {
    const granted = [...access.permissions({ orgId, teamId })].sort();
    if (granted.length > 0) teams[teamId] = granted;
  }
  return { platform: [] as Permission[], orgs, teams };
}

export function registerUserRoutes(app: AdminApp, deps: AdminDeps): void {
  const selectUser = (id: string) => findRow<UserRow>(deps.db, 'users', id)!;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me',
      security,
      responses: { 200: ok('The caller and its permissions') },
    }),
    (c) => {
      const access = c.get('access');
      const caller = access.caller;
      return c.json(
        {
          user: caller.kind === 'user' ? userView(caller.user) : null,
          caller: { type: access.auditActor.type, id: access.auditActor.id },
          permissions: permissionsOf(deps, access),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/users',
      security,
      middleware: [platformAdminOnly] as const,
      request: { body: json(UserCreate) },
      responses: { 201: okShaped('The created user', User) },
    }),
    (c) => {
      const access = c.get('access');
      if (!access.isPlatformAdmin) throw new KeygateError('forbidden');
      const body = c.req.valid('json');
      const id = newId('usr');
      const row = mutate(deps, c, (journal) => {
        uniqueEmail(deps, body.email, null);
        insertUser(deps.db, {
          id,
          email: body.email,
          name: body.name ?? null,
          platformRole: body.platform_role ?? 'org_user',
          now: journal.now,
        });
        const created = selectUser(id);
        journal.audit({ action: 'user.create', entityType: 'user', entityId: id, after: userView(created) });
        return created;
      });
      return c.json(userView(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/users',
      security,
      request: { query: z.object(listQuery) },
      responses: {
        200: okShaped(
          'Users the caller can see',
          z.object({ data: z.array(User), next_cursor: z.string().nullable() }),
        ),
      },
    }),
    (c) => {
      const list = userListQuery(userVisibility(c.get('access')));
      const page = paginate(queryRows<UserRow>(deps.db), list.sql, list.params, c.req.valid('query'), 'u');
      return c.json({ data: page.rows.map(userView), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/users/{id}',
      security,
      request: { params: idParam },
      responses: {
        200: okShaped('The user, with the memberships the caller can see', UserWithMemberships),
      },
    }),
    (c) => {
      const access = c.get('access');
      const row = visibleUser(deps, access, c.req.valid('param').id);
      const orgs = orgMembershipsOf(deps.db, row.id).filter((m) => access.canSee({ orgId: m.org_id }));
      const teams = teamMembershipsOf(deps.db, row.id).filter((m) =>
        access.canSee({ orgId: m.org_id, teamId: m.team_id }),
      );
      return c.json({ ...userView(row), memberships: { orgs, teams } }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/users/{id}',
      security,
      request: { params: idParam, body: json(UserUpdate) },
      responses: { 200: okShaped('The updated user', User) },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleUser(deps, access, c.req.valid('param').id);
      const body = c.req.valid('json');
      // A user may rename themselves; everything else (and other users) is for platform admins.
      const self = access.userId === before.id;
      if (
        !access.isPlatformAdmin &&
        (!self || body.platform_role !== undefined || body.email !== undefined)
      ) {
        throw new KeygateError('forbidden');
      }
      const row = mutate(deps, c, (journal) => {
        if (body.email !== undefined) uniqueEmail(deps, body.email, before.id);
        const columns: Record<string, unknown> = { updated_at: journal.now };
        if (body.email !== undefined) columns.email = body.email;
        if (body.name !== undefined) columns.name = body.name;
        if (body.platform_role !== undefined) columns.platform_role = body.platform_role;
        return updateAudited(journal, {
          before,
          view: userView,
          update: () => updateRow(deps.db, 'users', before.id, columns),
          reload: () => selectUser(before.id),
          audit: { action: 'user.update', entityType: 'user', entityId: before.id },
        });
      });
      return c.json(userView(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/users/{id}',
      security,
      request: { params: idParam },
      responses: { 204: { description: 'Deleted; the keys they owned are revoked' } },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleUser(deps, access, c.req.valid('param').id);
      if (!access.isPlatformAdmin) throw new KeygateError('forbidden');
      mutate(deps, c, (journal) => {
        const owned = activeKeysOwnedBy(deps.db, before.id);
        for (const key of owned) {
          markKeyRevoked(deps.db, key.id, journal.now);
          journal.audit({
            action: 'key.revoke',
            entityType: 'key',
            entityId: key.id,
            orgId: key.org_id,
            teamId: key.team_id,
            before: { status: 'active', owner: { type: 'user', id: before.id } },
            after: { status: 'revoked', reason: 'owner_deleted' },
          });
          journal.change(
            'key',
            key.id,
            [key.token_hash, key.previous_token_hash].filter((hash): hash is string => hash !== null),
          );
        }
        deleteUser(deps.db, before.id);
        journal.audit({
          action: 'user.delete',
          entityType: 'user',
          entityId: before.id,
          before: userView(before),
          after: { revoked_keys: owned.map((key) => key.id) },
        });
      });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/users/{id}/tokens',
      security,
      request: { params: idParam, body: { ...json(TokenBody), required: false } },
      responses: { 200: ok('{token, expires_at}: a JWT for that user') },
    }),
    async (c) => {
      const access = c.get('access');
      const user = visibleUser(deps, access, c.req.valid('param').id);
      if (!access.isPlatformAdmin) throw new KeygateError('forbidden');
      const body = (c.req.valid('json') as z.infer<typeof TokenBody> | undefined) ?? {};
      const ttl = body.ttl_seconds ?? DEFAULT_TOKEN_TTL_SECONDS;
      const minted = await deps.credentials.mintUserToken(user.id, ttl, deps.clock.now());
      mutate(deps, c, (journal) => {
        journal.audit({
          action: 'user.token.mint',
          entityType: 'user',
          entityId: user.id,
          after: { ttl_seconds: ttl, expires_at: isoOrNull(minted.expiresAt) },
        });
      });
      return c.json({ token: minted.token, expires_at: isoOrNull(minted.expiresAt) }, 200);
    },
  );
}
