/**
 * Teams (API.md "Organizations, teams, service accounts") and team memberships.
 * Org owners/admins create and delete teams and set their caps (budget, limits, limit modes,
 * access); they and team admins rename a team, set its self-service policy and manage its members;
 * team members read it. A team is visible to anyone holding a role on it or on its org; everyone
 * else gets 404. Team limits must fit within the org's limits (DESIGN.md "Limits"; the reference's
 * Teams page), and a self-service budget ceiling within the team's budget.
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
import { mutate, updateAudited } from '../mutation.js';
import { requireUniqueName } from '../unique-name.js';
import { findRow, nameTaken, queryRows, updateRow } from '../../src/storage/rows.js';
import { deleteTeam, insertTeam, teamHasKeys, teamListQuery } from '../../src/storage/team-repository.js';
import { paginate } from '../../src/storage/pagination.js';
import {
  idParam,
  isoOrNull,
  json,
  limitColumnUpdates,
  limitValue,
  limitFields,
  limitView,
  firstCapField,
  listQuery,
  ok,
  restrictAccess,
  security,
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

/**
 * The team row, or 404 when missing or outside the caller's scope (the one visibility check of a
 * team; `notFound` names the field when the id came from a body, e.g. a key's `team_id`).
 */
export function visibleTeam(
  deps: AdminDeps,
  access: AccessView,
  id: string,
  notFound: { param: string; message: string } | undefined = undefined,
): TeamRow {
  const row = findRow<TeamRow>(deps.db, 'teams', id);
  if (row === undefined || !access.canSee({ orgId: row.org_id, teamId: row.id }))
    throw new KeygateError('not_found', notFound);
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
    ...limitView(row, deps.clock.now()),
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

/**
 * 403 naming the first cap field (CAP_FIELDS) the request sets, unless the caller holds
 * `team.caps` (org owners/admins, platform admins): a team admin lifting the caps its org set
 * would undo them, as org roles may not lift an org's (orgs.ts).
 */
function assertMaySetCaps(
  access: AccessView,
  scope: { orgId: string; teamId?: string },
  body: Parameters<typeof firstCapField>[0],
): void {
  const field = firstCapField(body);
  if (field === undefined || access.can('team.caps', scope)) return;
  throw new KeygateError('forbidden', {
    param: field,
    message: "Only an org owner or admin changes a team's budget, limits or access.",
  });
}

/**
 * A self-service budget ceiling the request sets must be at most the team's budget as the request
 * leaves it (when it has one): a ceiling above it would promise keys more than the team may spend.
 */
function assertCeilingWithinBudget(
  ceiling: number | null | undefined,
  teamBudgetMicros: number | null,
): void {
  if (ceiling === undefined || ceiling === null || teamBudgetMicros === null) return;
  if (usdToMicros(ceiling) > teamBudgetMicros) {
    throw new KeygateError('invalid_request', {
      param: 'self_service.budget_ceiling',
      message: `self_service.budget_ceiling (${ceiling}) is above the team's max_budget (${microsToUsd(teamBudgetMicros)}).`,
    });
  }
}

/** The team's budget in micros once `input` is applied to `current` (`undefined` = untouched). */
function budgetAfter(input: LimitInput, currentMicros: number | null): number | null {
  const given = limitValue(input.max_budget);
  if (given === undefined) return currentMicros;
  return given === null ? null : usdToMicros(given);
}

/** Every limit the request sets must be at most the org's limit of the same kind (when it has one). */
function assertWithinOrg(org: OrgRow, input: LimitInput): void {
  for (const field of LIMIT_FIELDS) {
    const value = limitValue(input[field]);
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
  requireUniqueName(
    nameTaken(deps.db, 'teams', name, exceptId, { where: 'org_id = @org', params: { org: orgId } }),
    `A team named "${name}" already exists in this org.`,
  );
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
  const selectTeam = (id: string): TeamRow => findRow<TeamRow>(deps.db, 'teams', id)!;

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
      assertMaySetCaps(access, { orgId: org.id }, body);
      assertWithinOrg(org, body);
      assertCeilingWithinBudget(body.self_service?.budget_ceiling, budgetAfter(body, null));
      const id = newId('team');
      const row = mutate(deps, c, (journal) => {
        uniqueName(deps, org.id, body.name, null);
        insertTeam(deps.db, { id, orgId: org.id, name: body.name, now: journal.now });
        updateRow(deps.db, 'teams', id, {
          ...limitColumnUpdates(body),
          ...selfServiceColumns(body.self_service),
        });
        if (body.access !== undefined) writeAccess(deps.db, 'team', id, body.access);
        const created = selectTeam(id);
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
      const readable = access.isPlatformAdmin
        ? 'all'
        : {
            orgIds: [...access.orgRoles.keys()].filter((orgId) => access.can('team.read', { orgId })),
            teamIds: [...access.teamRoles.keys()],
          };
      const list = teamListQuery(query.org_id, readable);
      const page = paginate(queryRows<TeamRow>(deps.db), list.sql, list.params, query, 't');
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
      assertMaySetCaps(access, { orgId: before.org_id, teamId: before.id }, body);
      const org = findRow<OrgRow>(deps.db, 'orgs', before.org_id)!;
      assertWithinOrg(org, body);
      assertCeilingWithinBudget(
        body.self_service?.budget_ceiling,
        budgetAfter(body, before.max_budget_micros),
      );
      const row = mutate(deps, c, (journal) => {
        if (body.name !== undefined) uniqueName(deps, before.org_id, body.name, before.id);
        const columns: Record<string, unknown> = {
          ...limitColumnUpdates(body, before.limit_modes),
          ...selfServiceColumns(body.self_service),
          updated_at: journal.now,
        };
        if (body.name !== undefined) columns.name = body.name;
        return updateAudited(journal, {
          before,
          view: (team) => teamView(deps, team),
          update: () => {
            updateRow(deps.db, 'teams', before.id, columns);
            if (body.access !== undefined) writeAccess(deps.db, 'team', before.id, body.access);
          },
          reload: () => selectTeam(before.id),
          audit: {
            action: 'team.update',
            entityType: 'team',
            entityId: before.id,
            orgId: before.org_id,
            teamId: before.id,
          },
          change: 'team',
        });
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
        if (teamHasKeys(deps.db, before.id))
          throw new KeygateError('conflict', { message: 'Delete the keys of this team first.' });
        const beforeView = teamView(deps, before);
        deleteTeam(deps.db, before.id);
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
