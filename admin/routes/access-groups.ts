/**
 * Access groups (API.md "Callable targets and access groups"): a named set of callable targets =
 * explicit members ∪ every target the match rule (`name_glob` AND all `tags`) selects now. The
 * rule part is computed at read time, so a target created or re-tagged later joins at once.
 *
 * A group is global (`org_id` null: platform admins manage it, everyone may read and bind it) or
 * belongs to one org (that org's `access_group.manage` holders manage it; only callers who see the
 * org see it, everyone else gets 404; only that org's scopes may bind it). Every write appends an
 * `access_group` change so gateways drop the cached policies it may affect.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import { groupMemberIds, ruleSelects } from '../../src/policy/effective-access.js';
import { loadAccessGroups, loadAccessTargets } from '../../src/storage/access-repository.js';
import type { AccessView } from '../auth/access.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate, updateAudited } from '../mutation.js';
import { requireUniqueName } from '../unique-name.js';
import {
  accessGroupListQuery,
  deleteAccessGroup,
  explicitTargetNames,
  insertAccessGroup,
  isBoundAtOrgScope,
  replaceExplicitTargets,
  type AccessGroupRow,
} from '../../src/storage/access-group-repository.js';
import { findRow, nameTaken, queryRows, updateRow } from '../../src/storage/rows.js';
import { paginate } from '../../src/storage/pagination.js';
import {
  idParam,
  isoOrNull,
  json,
  listQuery,
  ok,
  security,
  nameText,
  tagText,
  plainText,
} from '../schemas.js';
import { allTargets, findTargetIdByName } from '../../src/storage/target-repository.js';
import { targetView } from './targets.js';

const matchRule = z.object({
  name_glob: plainText(200).nullable().optional(),
  tags: z.array(tagText).max(50).nullable().optional(),
});

const GroupCreate = z.object({
  name: nameText,
  org_id: z.string().min(1).nullable().optional(),
  targets: z.array(z.string().min(1)).max(10_000).optional(),
  match: matchRule.nullable().optional(),
});

const GroupUpdate = z.object({
  name: GroupCreate.shape.name.optional(),
  org_id: z.string().nullable().optional(),
  targets: GroupCreate.shape.targets,
  match: GroupCreate.shape.match,
});

type MatchInput = z.infer<typeof matchRule> | null | undefined;

/** [glob, tags JSON] columns for a rule; an empty rule is stored as no rule. */
function matchColumns(match: MatchInput): { match_name_glob: string | null; match_tags: string | null } {
  const glob = match?.name_glob ?? null;
  const tags = [...new Set(match?.tags ?? [])];
  return { match_name_glob: glob, match_tags: tags.length === 0 ? null : JSON.stringify(tags) };
}

export function accessGroupView(deps: AdminDeps, row: AccessGroupRow) {
  const tags = row.match_tags === null ? [] : (JSON.parse(row.match_tags) as string[]);
  const hasRule = row.match_name_glob !== null || tags.length > 0;
  return {
    id: row.id,
    name: row.name,
    org_id: row.org_id,
    targets: explicitTargetNames(deps.db, row.id),
    match: hasRule ? { name_glob: row.match_name_glob, tags } : null,
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
  };
}

/** The group, or 404 when missing or owned by an org the caller cannot see. */
export function visibleGroup(deps: AdminDeps, access: AccessView, id: string): AccessGroupRow {
  const row = findRow<AccessGroupRow>(deps.db, 'access_groups', id);
  if (row === undefined || (row.org_id !== null && !access.canSee({ orgId: row.org_id })))
    throw new KeygateError('not_found');
  return row;
}

function assertCanManage(access: AccessView, orgId: string | null): void {
  const allowed = orgId === null ? access.isPlatformAdmin : access.can('access_group.manage', { orgId });
  if (!allowed) throw new KeygateError('forbidden');
}

/**
 * Names are unique per org (issue 10 item 16): an org group may not share its name with another
 * group of the same org or with a global group (bindings name groups); a global group only with
 * other global groups. Other orgs' names are never consulted, so a 409 reveals nothing of them.
 */
function uniqueName(deps: AdminDeps, name: string, orgId: string | null, exceptId: string | null): void {
  const scope = { where: 'org_id IS NULL OR org_id IS @org', params: { org: orgId } };
  requireUniqueName(
    nameTaken(deps.db, 'access_groups', name, exceptId, scope),
    `An access group named "${name}" already exists.`,
  );
}

/** Replaces the explicit members of a group by target names (unknown names → 400). */
function writeExplicitTargets(deps: AdminDeps, groupId: string, names: readonly string[]): void {
  const ids = [...new Set(names)].map((name) => {
    const id = findTargetIdByName(deps.db, name);
    if (id === undefined)
      throw new KeygateError('invalid_request', { param: 'targets', message: `Unknown target "${name}".` });
    return id;
  });
  replaceExplicitTargets(deps.db, groupId, ids);
}

export function registerAccessGroupRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/access-groups',
      security,
      request: { body: json(GroupCreate) },
      responses: { 201: ok('The created access group') },
    }),
    (c) => {
      const access = c.get('access');
      const body = c.req.valid('json');
      const orgId = body.org_id ?? null;
      if (orgId !== null) {
        const org = findRow(deps.db, 'orgs', orgId);
        if (org === undefined || !access.canSee({ orgId }))
          throw new KeygateError('not_found', { param: 'org_id' });
      }
      assertCanManage(access, orgId);
      const id = newId('agrp');
      const row = mutate(deps, c, (journal) => {
        uniqueName(deps, body.name, orgId, null);
        const rule = matchColumns(body.match);
        insertAccessGroup(deps.db, {
          id,
          name: body.name,
          org_id: orgId,
          ...rule,
          created_at: journal.now,
          updated_at: journal.now,
        });
        writeExplicitTargets(deps, id, body.targets ?? []);
        const created = findRow<AccessGroupRow>(deps.db, 'access_groups', id)!;
        journal.audit({
          action: 'access_group.create',
          entityType: 'access_group',
          entityId: id,
          orgId,
          after: accessGroupView(deps, created),
        });
        journal.change('access_group', id);
        return created;
      });
      return c.json(accessGroupView(deps, row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/access-groups',
      security,
      request: { query: z.object({ ...listQuery, org_id: z.string().optional() }) },
      responses: { 200: ok('Access groups the caller can see') },
    }),
    (c) => {
      const access = c.get('access');
      const query = c.req.valid('query');
      const list = accessGroupListQuery(
        access.isPlatformAdmin ? 'all' : [...access.visibleOrgIds()],
        query.org_id,
      );
      const page = paginate(queryRows<AccessGroupRow>(deps.db), list.sql, list.params, query);
      return c.json(
        { data: page.rows.map((row) => accessGroupView(deps, row)), next_cursor: page.next_cursor },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/access-groups/{id}',
      security,
      request: { params: idParam },
      responses: { 200: ok('The access group') },
    }),
    (c) => c.json(accessGroupView(deps, visibleGroup(deps, c.get('access'), c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/access-groups/{id}/targets',
      security,
      request: { params: idParam },
      responses: { 200: ok('The current members: explicit ∪ matching the rule') },
    }),
    (c) => {
      const row = visibleGroup(deps, c.get('access'), c.req.valid('param').id);
      const group = loadAccessGroups(deps.db, [row.id]).get(row.id);
      const targets = loadAccessTargets(deps.db);
      const members = group === undefined ? new Set<string>() : groupMemberIds(group, targets);
      const explicit = new Set(group?.explicitTargetIds ?? []);
      const data = allTargets(deps.db)
        .filter((t) => members.has(t.id))
        .map((t) => {
          const summary = targets.find((s) => s.id === t.id);
          return {
            ...targetView(t),
            explicit: explicit.has(t.id),
            matched: summary !== undefined && group !== undefined && ruleSelects(group.match, summary),
          };
        });
      return c.json({ data, next_cursor: null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/access-groups/{id}',
      security,
      request: { params: idParam, body: json(GroupUpdate) },
      responses: { 200: ok('The updated access group') },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleGroup(deps, access, c.req.valid('param').id);
      assertCanManage(access, before.org_id);
      const body = c.req.valid('json');
      // A group an org's access is bound to is part of that org's access: changing its members
      // is a platform admin's decision, like the binding itself (issue 10 item 2).
      const membersTouched = body.targets !== undefined || body.match !== undefined;
      if (membersTouched && !access.isPlatformAdmin && isBoundAtOrgScope(deps.db, before.id))
        throw new KeygateError('forbidden', {
          message: "This group is bound to an org's access; only a platform admin changes its targets.",
        });
      if (body.org_id !== undefined && body.org_id !== before.org_id)
        throw new KeygateError('invalid_request', {
          param: 'org_id',
          message: 'The org of an access group cannot change; create a new group instead.',
        });
      const row = mutate(deps, c, (journal) => {
        const columns: Record<string, unknown> = { updated_at: journal.now };
        if (body.name !== undefined) {
          uniqueName(deps, body.name, before.org_id, before.id);
          columns.name = body.name;
        }
        if (body.match !== undefined) Object.assign(columns, matchColumns(body.match));
        return updateAudited(journal, {
          before,
          view: (group) => accessGroupView(deps, group),
          update: () => {
            updateRow(deps.db, 'access_groups', before.id, columns);
            if (body.targets !== undefined) writeExplicitTargets(deps, before.id, body.targets);
          },
          reload: () => findRow<AccessGroupRow>(deps.db, 'access_groups', before.id)!,
          audit: {
            action: 'access_group.update',
            entityType: 'access_group',
            entityId: before.id,
            orgId: before.org_id,
          },
          change: 'access_group',
        });
      });
      return c.json(accessGroupView(deps, row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/access-groups/{id}',
      security,
      request: { params: idParam },
      responses: { 204: { description: 'Deleted' } },
    }),
    (c) => {
      const access = c.get('access');
      const before = visibleGroup(deps, access, c.req.valid('param').id);
      assertCanManage(access, before.org_id);
      mutate(deps, c, (journal) => {
        const beforeView = accessGroupView(deps, before);
        deleteAccessGroup(deps.db, before.id);
        journal.audit({
          action: 'access_group.delete',
          entityType: 'access_group',
          entityId: before.id,
          orgId: before.org_id,
          before: beforeView,
        });
        journal.change('access_group', before.id);
      });
      return c.body(null, 204);
    },
  );
}
