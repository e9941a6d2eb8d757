/**
 * The audit log (API.md "Audit and usage"), newest first. Scoped like everything else:
 * platform admins read every entry; org owners/admins/auditors the entries of their orgs; team
 * admins the entries of their teams. Entries with no org (users, platform actions) are for
 * platform admins only. Callers with `audit.read` nowhere get 403.
 * `via` tells a self-service action (a developer managing their own key) from an admin action.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { isoOrNull, ok, security } from '../schemas.js';
import { readAudit, type AuditRow } from '../../src/storage/audit-repository.js';

const AuditQuery = z.object({
  entity_type: z.string().min(1).max(64).optional(),
  entity_id: z.string().min(1).max(256).optional(),
  actor_id: z.string().min(1).max(128).optional(),
  org_id: z.string().min(1).max(128).optional(),
  team_id: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z
    .string()
    .regex(/^[1-9]\d{0,15}$/)
    .optional(),
});

const DEFAULT_LIMIT = 100;

function parse(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}

export function auditView(row: AuditRow) {
  return {
    id: String(row.id),
    at: isoOrNull(row.at),
    actor: { type: row.actor_type, id: row.actor_id },
    via: row.via,
    action: row.action,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    org_id: row.org_id,
    team_id: row.team_id,
    before: parse(row.before),
    after: parse(row.after),
    request_id: row.request_id,
  };
}

export function registerAuditRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/audit',
      security,
      request: { query: AuditQuery },
      responses: { 200: ok('Audit entries the caller may read, newest first; `next_cursor` pages back') },
    }),
    (c) => {
      const access = c.get('access');
      const query = c.req.valid('query');
      let readable: { orgIds: string[]; teamIds: string[] } | 'all' = 'all';
      if (!access.isPlatformAdmin) {
        const orgIds = [...access.orgRoles.keys()].filter((orgId) => access.can('audit.read', { orgId }));
        const teamIds = [...access.teamRoles.entries()]
          .filter(([teamId, team]) => access.can('audit.read', { orgId: team.orgId, teamId }))
          .map(([teamId]) => teamId);
        if (orgIds.length === 0 && teamIds.length === 0) throw new KeygateError('forbidden');
        readable = { orgIds, teamIds };
      }
      const limit = query.limit ?? DEFAULT_LIMIT;
      const rows = readAudit(deps.db, {
        readable,
        equals: {
          entity_type: query.entity_type,
          entity_id: query.entity_id,
          actor_id: query.actor_id,
          org_id: query.org_id,
          team_id: query.team_id,
        },
        beforeId: query.cursor === undefined ? undefined : Number(query.cursor),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return c.json(
        {
          data: page.map(auditView),
          next_cursor: rows.length > limit && last !== undefined ? String(last.id) : null,
        },
        200,
      );
    },
  );
}
