/**
 * Service accounts (API.md "Organizations, teams, service accounts"): non-login owners of keys
 * for shared services, jobs and automations. They belong to one team, are never users, and can
 * never authenticate to the admin plane (a JWT whose `sub` is a service-account id finds no user).
 *
 * Deleting a service account that still owns keys answers 409 `conflict`: its keys carry spend
 * and audit history, and a key without an owner would be meaningless. Revoke and delete the keys
 * first (active ones are named in the message).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import type { AccessView } from '../auth/access.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate } from '../mutation.js';
import { serviceAccountView } from '../service-account-view.js';
import { requireUniqueName } from '../unique-name.js';
import { queryRows } from '../../src/storage/rows.js';
import {
  deleteServiceAccount,
  findServiceAccount,
  insertServiceAccount,
  serviceAccountKeys,
  serviceAccountNameTaken,
  serviceAccountListQuery,
  type ServiceAccountRow,
} from '../../src/storage/service-account-repository.js';
import { paginate } from '../../src/storage/pagination.js';
import { idParam, json, listQuery, ok, security, nameText } from '../schemas.js';
import { visibleTeam } from './teams.js';

const ServiceAccountCreate = z.object({
  name: nameText,
  description: z.string().max(2000).nullable().optional(),
});

function forbidUnless(
  access: AccessView,
  permission: 'service_account.read' | 'service_account.manage',
  scope: {
    orgId: string;
    teamId: string;
  },
): void {
  if (!access.can(permission, scope)) throw new KeygateError('forbidden');
}

export function registerServiceAccountRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams/{id}/service-accounts',
      security,
      request: { params: idParam, body: json(ServiceAccountCreate) },
      responses: { 201: ok('The created service account') },
    }),
    (c) => {
      const access = c.get('access');
      const team = visibleTeam(deps, access, c.req.valid('param').id);
      forbidUnless(access, 'service_account.manage', { orgId: team.org_id, teamId: team.id });
      const body = c.req.valid('json');
      const id = newId('sa');
      const row = mutate(deps, c, (journal) => {
        requireUniqueName(
          serviceAccountNameTaken(deps.db, team.id, body.name),
          `A service account named "${body.name}" already exists in this team.`,
        );
        insertServiceAccount(deps.db, {
          id,
          team_id: team.id,
          name: body.name,
          description: body.description ?? null,
          created_by: access.auditActor.id,
          created_at: journal.now,
        });
        const created = findServiceAccount(deps.db, id)!;
        journal.audit({
          action: 'service_account.create',
          entityType: 'service_account',
          entityId: id,
          orgId: team.org_id,
          teamId: team.id,
          after: serviceAccountView(deps, created, team.org_id),
        });
        return created;
      });
      return c.json(serviceAccountView(deps, row, team.org_id), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{id}/service-accounts',
      security,
      request: { params: idParam, query: z.object(listQuery) },
      responses: { 200: ok('Service accounts of the team') },
    }),
    (c) => {
      const access = c.get('access');
      const team = visibleTeam(deps, access, c.req.valid('param').id);
      forbidUnless(access, 'service_account.read', { orgId: team.org_id, teamId: team.id });
      const list = serviceAccountListQuery(team.id);
      const page = paginate(
        queryRows<ServiceAccountRow>(deps.db),
        list.sql,
        list.params,
        c.req.valid('query'),
      );
      return c.json(
        {
          data: page.rows.map((row) => serviceAccountView(deps, row, team.org_id)),
          next_cursor: page.next_cursor,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/service-accounts/{id}',
      security,
      request: { params: idParam },
      responses: { 204: { description: 'Deleted' } },
    }),
    (c) => {
      const access = c.get('access');
      const row = findServiceAccount(deps.db, c.req.valid('param').id);
      if (row === undefined) throw new KeygateError('not_found');
      const team = visibleTeam(deps, access, row.team_id);
      forbidUnless(access, 'service_account.manage', { orgId: team.org_id, teamId: team.id });
      mutate(deps, c, (journal) => {
        const keys = serviceAccountKeys(deps.db, row.id);
        if (keys.length > 0) {
          const active = keys.filter((key) => key.status === 'active').map((key) => key.id);
          throw new KeygateError('conflict', {
            message:
              active.length > 0
                ? `This service account owns ${active.length} active key(s) (${active.slice(0, 5).join(', ')}); revoke and delete them first.`
                : `This service account still owns ${keys.length} revoked key(s); delete them first.`,
          });
        }
        const beforeView = serviceAccountView(deps, row, team.org_id);
        deleteServiceAccount(deps.db, row.id);
        journal.audit({
          action: 'service_account.delete',
          entityType: 'service_account',
          entityId: row.id,
          orgId: team.org_id,
          teamId: team.id,
          before: beforeView,
        });
      });
      return c.body(null, 204);
    },
  );
}
