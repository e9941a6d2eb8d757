/**
 * Usage (API.md "Audit and usage"): requests, tokens and spend from the `usage_daily`
 * aggregates that gateway usage reports feed, for one key, team or org (platform admins may
 * omit the scope to read everything), over an inclusive UTC day range, optionally grouped by
 * day or by target.
 * Scope: `usage.read` on the key's team/org, the team or the org; a key's self-service owner
 * may read its own key's usage. Invisible scopes answer 404, visible ones without the
 * permission 403.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { microsToUsd } from '../../src/money.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { canSeeKey, isOwnKey, loadKeyRecord } from '../keys/key-record.js';
import { ok, security } from '../schemas.js';
import { visibleOrg } from './orgs.js';
import { visibleTeam } from './teams.js';

/** `YYYY-MM-DD`, or a full ISO 8601 time (its UTC day is used). */
const day = z
  .string()
  .refine((value) => toDay(value) !== null, { message: 'expected a date (YYYY-MM-DD) or an ISO 8601 time' })
  .transform((value) => toDay(value) as string);

const UsageQuery = z.object({
  key_id: z.string().min(1).max(128).optional(),
  team_id: z.string().min(1).max(128).optional(),
  org_id: z.string().min(1).max(128).optional(),
  from: day.optional(),
  to: day.optional(),
  group_by: z.enum(['day', 'target']).optional(),
});

function toDay(value: string): string | null {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value ? null : value;
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString().slice(0, 10);
}

interface UsageTotals {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  spend_micros: number;
}

function totalsView(row: UsageTotals) {
  return {
    requests: row.requests,
    input_tokens: row.input_tokens,
    output_tokens: row.output_tokens,
    total_tokens: row.input_tokens + row.output_tokens,
    spend: microsToUsd(row.spend_micros),
  };
}

const SUMS = `IFNULL(SUM(requests), 0) AS requests, IFNULL(SUM(input_tokens), 0) AS input_tokens,
  IFNULL(SUM(output_tokens), 0) AS output_tokens, IFNULL(SUM(spend_micros), 0) AS spend_micros`;

export function registerUsageRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/usage',
      security,
      request: { query: UsageQuery },
      responses: { 200: ok('{scope, from, to, group_by, totals, data}: requests, tokens and spend') },
    }),
    (c) => {
      const access = c.get('access');
      const query = c.req.valid('query');
      const given = (['key_id', 'team_id', 'org_id'] as const).filter((field) => query[field] !== undefined);
      if (given.length > 1) {
        throw new KeygateError('invalid_request', {
          param: given[1],
          message: 'Give at most one of key_id, team_id, org_id.',
        });
      }
      if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
        throw new KeygateError('invalid_request', { param: 'from', message: '`from` is after `to`.' });
      }
      let scope: { type: 'key' | 'team' | 'org' | 'all'; id: string | null } = { type: 'all', id: null };
      if (query.key_id !== undefined) {
        const key = loadKeyRecord(deps.db, query.key_id);
        if (key === undefined || !canSeeKey(access, key))
          throw new KeygateError('not_found', { param: 'key_id' });
        const own = isOwnKey(access, key);
        if (!own && !access.can('usage.read', { orgId: key.org_id, teamId: key.team_id })) {
          throw new KeygateError('forbidden');
        }
        scope = { type: 'key', id: key.id };
      } else if (query.team_id !== undefined) {
        const team = visibleTeam(deps, access, query.team_id);
        if (!access.can('usage.read', { orgId: team.org_id, teamId: team.id }))
          throw new KeygateError('forbidden');
        scope = { type: 'team', id: team.id };
      } else if (query.org_id !== undefined) {
        const org = visibleOrg(deps, access, query.org_id);
        if (!access.can('usage.read', { orgId: org.id })) throw new KeygateError('forbidden');
        scope = { type: 'org', id: org.id };
      } else if (!access.isPlatformAdmin) {
        throw new KeygateError('invalid_request', {
          param: 'org_id',
          message: 'Give one of key_id, team_id, org_id.',
        });
      }

      const conditions: string[] = [];
      const params: unknown[] = [];
      if (scope.type !== 'all') {
        conditions.push(`${scope.type}_id = ?`);
        params.push(scope.id);
      }
      if (query.from !== undefined) {
        conditions.push('day >= ?');
        params.push(query.from);
      }
      if (query.to !== undefined) {
        conditions.push('day <= ?');
        params.push(query.to);
      }
      const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
      const totals = deps.db
        .prepare(`SELECT ${SUMS} FROM usage_daily ${where}`)
        .get(...params) as UsageTotals;
      let data: Record<string, unknown>[] = [];
      if (query.group_by !== undefined) {
        const column = query.group_by === 'day' ? 'day' : 'target';
        const rows = deps.db
          .prepare(
            `SELECT ${column} AS bucket, ${SUMS} FROM usage_daily ${where} GROUP BY ${column} ORDER BY ${column}`,
          )
          .all(...params) as (UsageTotals & { bucket: string })[];
        data = rows.map((row) => ({ [column]: row.bucket, ...totalsView(row) }));
      }
      return c.json(
        {
          scope,
          from: query.from ?? null,
          to: query.to ?? null,
          group_by: query.group_by ?? null,
          totals: totalsView(totals),
          data,
        },
        200,
      );
    },
  );
}
