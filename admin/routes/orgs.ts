/**
 * Organizations (API.md "Organizations, teams, service accounts") and org memberships.
 * Platform admins create and delete orgs and set their limits, budget and access; org
 * owners/admins rename them and manage members;
 * any member sees the org; everyone else gets 404.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import { ORG_ROLES } from '../../src/policy/permissions.js';
import type { AccessView } from '../auth/access.js';
import { platformAdminOnly } from '../auth/platform-admin-only.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate, updateAudited } from '../mutation.js';
import { requireUniqueName } from '../unique-name.js';
import { deleteOrg, insertOrg, orgHasTeams, orgListQuery } from '../../src/storage/org-repository.js';
import { findRow, nameTaken, queryRows, updateRow } from '../../src/storage/rows.js';
import { paginate } from '../../src/storage/pagination.js';
import {
  idParam,
  json,
  ok,
  security,
  isoOrNull,
  firstCapField,
  limitColumnUpdates,
  limitFields,
  limitView,
  listQuery,
  restrictAccess,
  type LimitColumns,
  nameText,
} from '../schemas.js';
import { accessView, writeAccess } from '../access-bindings.js';
import { registerMembershipRoutes } from './memberships.js';

export interface OrgRow extends LimitColumns {
  id: string;
  name: string;
  access_mode: 'all' | 'restrict';
  created_at: number;
  updated_at: number;
}

const orgAccess = z.union([z.object({ mode: z.literal('all') }), restrictAccess]);

const OrgCreate = z.object({
  name: nameText,
  ...limitFields,
  access: orgAccess.optional(),
});
const OrgUpdate = OrgCreate.partial();

/** The org row, or 404 when missing or outside the caller's scope. */
export function visibleOrg(deps: AdminDeps, access: AccessView, id: string): OrgRow {
  const row = findRow<OrgRow>(deps.db, 'orgs', id);
  if (row === undefined || !access.canSee({ orgId: row.id })) throw new KeygateError('not_found');
  return row;
}

export function orgView(deps: AdminDeps, row: OrgRow) {
  return {
    id: row.id,
    name: row.name,
    ...limitView(row, deps.clock.now()),
    access: accessView(deps.db, 'org', row.id),
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
  };
}

function uniqueName(deps: AdminDeps, name: string, exceptId: string | null): void {
  requireUniqueName(nameTaken(deps.db, 'orgs', name, exceptId), `An org named "${name}" already exists.`);
}

export function registerOrgRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orgs',
      security,
      middleware: [platformAdminOnly] as const,
      request: { body: json(OrgCreate) },
      responses: { 201: ok('The created org') },
    }),
    (c) => {
      const access = c.get('access');
      if (!access.isPlatformAdmin) throw new KeygateError('forbidden');
      const body = c.req.valid('json');
      const id = newId('org');
      const row = mutate(deps, c, (journal) => {
        uniqueName(deps, body.name, null);
        insertOrg(deps.db, { id, name: body.name, now: journal.now });
        updateRow(deps.db, 'orgs', id, limitColumnUpdates(body));
        if (body.access !== undefined) writeAccess(deps.db, 'org', id, body.access);
        const created = findRow<OrgRow>(deps.db, 'orgs', id)!;
        journal.audit({
          action: 'org.create',
          entityType: 'org',
          entityId: id,
          orgId: id,
          after: orgView(deps, created),
        });
        journal.change('org', id);
        return created;
      });
      return c.json(orgView(deps, row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/orgs',
      security,
      request: { query: z.object(listQuery) },
      responses: { 200: ok('Orgs the caller can see') },
    }),
    (c) => {
      const access = c.get('access');
      const query = c.req.valid('query');
      const list = orgListQuery(access.isPlatformAdmin ? 'all' : [...access.visibleOrgIds()]);
      const page = paginate(queryRows<OrgRow>(deps.db), list.sql, list.params, query);
      return c.json({ data: page.rows.map((row) => orgView(deps, row)), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/orgs/{id}',
      security,
      request: { params: idParam },
      responses: { 200: ok('The org') },
    }),
    (c) => c.json(orgView(deps, visibleOrg(deps, c.get('access'), c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/orgs/{id}',
      security,
      request: { params: idParam, body: json(OrgUpdate) },
      responses: { 200: ok('The updated org') },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleOrg(deps, access, c.req.valid('param').id);
      if (!access.can('org.update', { orgId: before.id })) throw new KeygateError('forbidden');
      const body = c.req.valid('json');
      // The org's caps (limits, budget) and its access (mode and bindings) are set by platform
      // admins: an org role lifting them would undo what the platform decided (issue 10 item 2).
      const capField = firstCapField(body);
      if (capField !== undefined && !access.isPlatformAdmin) {
        throw new KeygateError('forbidden', {
          param: capField,
          message: "Only a platform admin changes an org's limits, budget or access.",
        });
      }
      const row = mutate(deps, c, (journal) => {
        if (body.name !== undefined) uniqueName(deps, body.name, before.id);
        const columns: Record<string, unknown> = {
          ...limitColumnUpdates(body, before.limit_modes),
          updated_at: journal.now,
        };
        if (body.name !== undefined) columns.name = body.name;
        return updateAudited(journal, {
          before,
          view: (org) => orgView(deps, org),
          update: () => {
            updateRow(deps.db, 'orgs', before.id, columns);
            if (body.access !== undefined) writeAccess(deps.db, 'org', before.id, body.access);
          },
          reload: () => findRow<OrgRow>(deps.db, 'orgs', before.id)!,
          audit: { action: 'org.update', entityType: 'org', entityId: before.id, orgId: before.id },
          change: 'org',
        });
      });
      return c.json(orgView(deps, row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/orgs/{id}',
      security,
      request: { params: idParam },
      responses: { 204: { description: 'Deleted' } },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleOrg(deps, access, c.req.valid('param').id);
      if (!access.isPlatformAdmin) throw new KeygateError('forbidden');
      mutate(deps, c, (journal) => {
        if (orgHasTeams(deps.db, before.id))
          throw new KeygateError('conflict', { message: 'Delete the teams of this org first.' });
        const beforeView = orgView(deps, before);
        deleteOrg(deps.db, before.id);
        journal.audit({
          action: 'org.delete',
          entityType: 'org',
          entityId: before.id,
          orgId: before.id,
          before: beforeView,
        });
        journal.change('org', before.id);
      });
      return c.body(null, 204);
    },
  );

  registerMembershipRoutes(app, deps, {
    scope: 'org',
    roles: ORG_ROLES,
    permission: 'org.members',
    find: (d, access, id) => ({ id: visibleOrg(d, access, id).id, orgId: id }),
  });
}
