/**
 * Teams (API.md "Organizations, teams, service accounts") and team memberships.
 * Org owners/admins create and delete teams; they and team admins update a team (limits,
 * self-service policy, access) and manage its members; team members read it. A team is
 * visible to anyone holding a role on it or on its org; everyone else gets 404.
 * Team limits must fit within the org's limits (DESIGN.md "Limits"; the reference's Teams page).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import { microsToUsd, usdToMicros } from '../../src/money.js';
import { TEAM_ROLES } from '../../src/policy/permissions.js';
import type { AccessView } from '../auth/access.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import type { Journal } from '../mutation.js';
import { registerMembershipRoutes } from './memberships.js';
import { mutate } from '../mutation.js';
import { paginate } from '../pagination.js';
import {
  idParam,
  isoOrNull,
  json,
  limitColumnUpdates,
  limitFields,
  limitView,
  listQuery,
  ok,
  restrictAccess,
  security,
  setClause,
  type LimitColumns,
  type LimitInput,
  nameText,
} from '../schemas.js';
import { accessView, writeAccess } from '../access-bindings.js';
import { visibleOrg, type OrgRow } from './orgs.js';

export interface TeamRow extends LimitColumns {
  id: string;
  org_id: string;
  name: string;
  access_mode: 'inherit' | 'restrict';
  ss_enabled: number;
  ss_max_keys_per_user: number | null;
  ss_budget_ceiling_micros: number | null;
  ss_require_expiry: number;
  ss_max_expiry_days: number | null;
  created_at: number;
  updated_at: number;
}

const teamAccess = z.union([z.object({ mode: z.literal('inherit') }), restrictAccess]);

const SelfServicePolicy = z.object({
  enabled: z.boolean().optional(),
  max_keys_per_user: z.number().int().positive().max(100_000).nullable().optional(),
  budget_ceiling: z.number().nonnegative().max(1e9).nullable().optional(),
  require_expiry: z.boolean().optional(),
  max_expiry_days: z.number().int().positive().max(36_500).nullable().optional(),
});

const teamFields = {
  name: nameText,
  ...limitFields,
  self_service: SelfServicePolicy.optional(),
  access: teamAccess.optional(),
};
const TeamCreate = z.object({ org_id: z.string().min(1).max(128), ...teamFields });
const TeamUpdate = z.object(teamFields).partial();
const TeamListQuery = z.object({ ...listQuery, org_id: z.string().min(1).max(128).optional() });

/** The team row, or 404 when missing or outside the caller's scope. */
export function visibleTeam(deps: AdminDeps, access: AccessView, id: string): TeamRow {
  const row = deps.db.prepare('SELECT * FROM teams WHERE id = ?').get(id) as TeamRow | undefined;
  if (row === undefined || !access.canSee({ orgId: row.org_id, teamId: row.id }))
    throw new KeygateError('not_found');
  return row;
}

function requirePermission(
  access: AccessView,
  permission: Parameters<AccessView['can']>[0],
  team: TeamRow,
): void {
  if (!access.can(permission, { orgId: team.org_id, teamId: team.id })) throw new KeygateError('forbidden');
}

export function teamView(deps: AdminDeps, row: TeamRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    ...limitView(row),
    self_service: {
      enabled: row.ss_enabled === 1,
      max_keys_per_user: row.ss_max_keys_per_user,
      budget_ceiling:
        row.ss_budget_ceiling_micros === null ? null : microsToUsd(row.ss_budget_ceiling_micros),
      require_expiry: row.ss_require_expiry === 1,
      max_expiry_days: row.ss_max_expiry_days,
    },
    access: accessView(deps.db, 'team', row.id),
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
  };
}

const LIMIT_FIELDS = ['max_budget', 'rpm_limit', 'tpm_limit', 'rph_limit', 'rpd_limit', 'tpd_limit'] as const;

/** Every limit the request sets must be at most the org's limit of the same kind (when it has one). */
function assertWithinOrg(org: OrgRow, input: LimitInput): void {
  for (const field of LIMIT_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    const orgValue = field === 'max_budget' ? org.max_budget_micros : org[field];
    const teamValue = field === 'max_budget' ? usdToMicros(value) : value;
    if (orgValue !== null && teamValue > orgValue) {
      const shown = field === 'max_budget' ? microsToUsd(orgValue) : orgValue;
      throw new KeygateError('invalid_request', {
        param: field,
        message: `${field} (${value}) is above the org's ${field} (${shown}); team limits must fit within the org's limits.`,
      });
    }
  }
}

function selfServiceColumns(
  policy: z.infer<typeof SelfServicePolicy> | undefined,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (policy === undefined) return out;
  if (policy.enabled !== undefined) out.ss_enabled = policy.enabled ? 1 : 0;
  if (policy.max_keys_per_user !== undefined) out.ss_max_keys_per_user = policy.max_keys_per_user;
  if (policy.budget_ceiling !== undefined)
    out.ss_budget_ceiling_micros = policy.budget_ceiling === null ? null : usdToMicros(policy.budget_ceiling);
  if (policy.require_expiry !== undefined) out.ss_require_expiry = policy.require_expiry ? 1 : 0;
  if (policy.max_expiry_days !== undefined) out.ss_max_expiry_days = policy.max_expiry_days;
  return out;
}

function uniqueName(deps: AdminDeps, orgId: string, name: string, exceptId: string | null): void {
  const clash = deps.db
    .prepare('SELECT id FROM teams WHERE org_id = ? AND name = ? AND id IS NOT ?')
    .get(orgId, name, exceptId);
  if (clash !== undefined)
    throw new KeygateError('conflict', {
      param: 'name',
      message: `A team named "${name}" already exists in this org.`,
    });
}

function auditTeam(journal: Journal, action: string, team: TeamRow, before: unknown, after: unknown): void {
  journal.audit({
    action,
    entityType: 'team',
    entityId: team.id,
    orgId: team.org_id,
    teamId: team.id,
    before,
    after,
  });
}

export function registerTeamRoutes(app: AdminApp, deps: AdminDeps): void {
  const selectTeam = deps.db.prepare('SELECT * FROM teams WHERE id = ?');

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/teams',
      security,
      request: { body: json(TeamCreate) },
      responses: { 201: ok('The created team') },
    }),
    (c) => {
      const access = c.get('access');
      const body = c.req.valid('json');
      let org: OrgRow;
      try {
        org = visibleOrg(deps, access, body.org_id);
      } catch (error) {
        if (error instanceof KeygateError) throw new KeygateError('not_found', { param: 'org_id' });
        throw error;
      }
      if (!access.can('team.create', { orgId: org.id })) throw new KeygateError('forbidden');
      assertWithinOrg(org, body);
      const id = newId('team');
      const row = mutate(deps, c, (journal) => {
        uniqueName(deps, org.id, body.name, null);
        deps.db
          .prepare('INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
          .run(id, org.id, body.name, journal.now, journal.now);
        const columns = { ...limitColumnUpdates(body), ...selfServiceColumns(body.self_service) };
        if (Object.keys(columns).length > 0) {
          deps.db.prepare(`UPDATE teams SET ${setClause(columns)} WHERE id = @id`).run({ ...columns, id });
        }
        if (body.access !== undefined) writeAccess(deps.db, 'team', id, body.access);
        const created = selectTeam.get(id) as TeamRow;
        auditTeam(journal, 'team.create', created, undefined, teamView(deps, created));
        journal.change('team', id);
        return created;
      });
      return c.json(teamView(deps, row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams',
      security,
      request: { query: TeamListQuery },
      responses: { 200: ok('Teams the caller can read (optionally of one org)') },
    }),
    (c) => {
      const access = c.get('access');
      const query = c.req.valid('query');
      let where = 'WHERE 1';
      const params: unknown[] = [];
      if (query.org_id !== undefined) {
        where += ' AND t.org_id = ?';
        params.push(query.org_id);
      }
      if (!access.isPlatformAdmin) {
        const orgIds = [...access.orgRoles.keys()].filter((orgId) => access.can('team.read', { orgId }));
        const teamIds = [...access.teamRoles.keys()];
        const list = (ids: string[]) => ids.map(() => '?').join(',') || "''";
        where += ` AND (t.org_id IN (${list(orgIds)}) OR t.id IN (${list(teamIds)}))`;
        params.push(...orgIds, ...teamIds);
      }
      const page = paginate(
        (sql, args) => deps.db.prepare(sql).all(...args) as TeamRow[],
        `SELECT t.* FROM teams t ${where}`,
        params,
        query,
        't',
      );
      return c.json(
        { data: page.rows.map((row) => teamView(deps, row)), next_cursor: page.next_cursor },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/teams/{id}',
      security,
      request: { params: idParam },
      responses: { 200: ok('The team') },
    }),
    (c) => {
      const access = c.get('access');
      const row = visibleTeam(deps, access, c.req.valid('param').id);
      requirePermission(access, 'team.read', row);
      return c.json(teamView(deps, row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/teams/{id}',
      security,
      request: { params: idParam, body: json(TeamUpdate) },
      responses: { 200: ok('The updated team') },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleTeam(deps, access, c.req.valid('param').id);
      requirePermission(access, 'team.update', before);
      const body = c.req.valid('json');
      const org = deps.db.prepare('SELECT * FROM orgs WHERE id = ?').get(before.org_id) as OrgRow;
      assertWithinOrg(org, body);
      const row = mutate(deps, c, (journal) => {
        const beforeView = teamView(deps, before);
        if (body.name !== undefined) uniqueName(deps, before.org_id, body.name, before.id);
        const columns: Record<string, unknown> = {
          ...limitColumnUpdates(body),
          ...selfServiceColumns(body.self_service),
          updated_at: journal.now,
        };
        if (body.name !== undefined) columns.name = body.name;
        deps.db
          .prepare(`UPDATE teams SET ${setClause(columns)} WHERE id = @id`)
          .run({ ...columns, id: before.id });
        if (body.access !== undefined) writeAccess(deps.db, 'team', before.id, body.access);
        const after = selectTeam.get(before.id) as TeamRow;
        auditTeam(journal, 'team.update', after, beforeView, teamView(deps, after));
        journal.change('team', before.id);
        return after;
      });
      return c.json(teamView(deps, row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/teams/{id}',
      security,
      request: { params: idParam },
      responses: { 204: { description: 'Deleted' } },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleTeam(deps, access, c.req.valid('param').id);
      requirePermission(access, 'team.delete', before);
      mutate(deps, c, (journal) => {
        // Keys (even revoked ones) carry spend and audit history: they must be deleted first.
        const key = deps.db.prepare('SELECT id FROM keys WHERE team_id = ? LIMIT 1').get(before.id);
        if (key !== undefined)
          throw new KeygateError('conflict', { message: 'Delete the keys of this team first.' });
        const beforeView = teamView(deps, before);
        deps.db.prepare('DELETE FROM service_accounts WHERE team_id = ?').run(before.id);
        deps.db
          .prepare("DELETE FROM access_bindings WHERE scope_type = 'team' AND scope_id = ?")
          .run(before.id);
        deps.db.prepare('DELETE FROM teams WHERE id = ?').run(before.id);
        auditTeam(journal, 'team.delete', before, beforeView, undefined);
        journal.change('team', before.id);
      });
      return c.body(null, 204);
    },
  );

  registerMembershipRoutes(app, deps, {
    scope: 'team',
    roles: TEAM_ROLES,
    permission: 'team.members',
    find: (d, access, id) => {
      const team = visibleTeam(d, access, id);
      return { id: team.id, orgId: team.org_id };
    },
  });
}
