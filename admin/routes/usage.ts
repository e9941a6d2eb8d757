/**
 * Usage (API.md "Audit and usage"): requests, tokens and spend from the hour-granular
 * `usage_hourly` aggregates that gateway usage reports feed, for one key, team or org (platform
 * admins may omit the scope to read everything), over an inclusive UTC day range (`from`/`to`)
 * and/or instants at hour granularity (`since`/`until`), optionally grouped (`group_by=key|team|
 * org|user|target|tag|hour|day`), ordered by spend, requests or tokens (descending), limited, and
 * as CSV (`Accept: text/csv` or `format=csv`). Issue 14: "the top 10 keys by spend in the last
 * 24 h" is `group_by=key&order_by=spend&limit=10&since=<now - 24 h>`.
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
import {
  USAGE_GROUPS,
  usageByGroup,
  usageTotals,
  type UsageFilter,
  type UsageGroup,
  type UsageTotals,
} from '../../src/storage/usage-repository.js';
import { visibleOrg } from './orgs.js';
import { visibleTeam } from './teams.js';

/** `YYYY-MM-DD`, or a full ISO 8601 time (its UTC day is used). */
const day = z
  .string()
  .refine((value) => toDay(value) !== null, { message: 'expected a date (YYYY-MM-DD) or an ISO 8601 time' })
  .transform((value) => toDay(value) as string);

/** An ISO 8601 instant; its UTC hour is the bound (hour granularity). */
const instant = z
  .string()
  .refine(isIsoInstant, { message: 'expected an ISO 8601 time' })
  .transform((value) => Math.floor(Date.parse(value) / HOUR_MS) * HOUR_MS);

const UsageQuery = z.object({
  key_id: z.string().min(1).max(128).optional(),
  team_id: z.string().min(1).max(128).optional(),
  org_id: z.string().min(1).max(128).optional(),
  from: day.optional(),
  to: day.optional(),
  since: instant.optional(),
  until: instant.optional(),
  group_by: z.enum(USAGE_GROUPS).optional(),
  order_by: z.enum(['spend', 'requests', 'tokens']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  format: z.enum(['json', 'csv']).optional(),
});

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The response field naming each grouping's bucket. */
const GROUP_FIELD: Record<UsageGroup, string> = {
  day: 'day',
  hour: 'hour',
  target: 'target',
  key: 'key_id',
  team: 'team_id',
  org: 'org_id',
  user: 'user_id',
  tag: 'tag',
};

function toDay(value: string): string | null {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value ? null : value;
  }
  if (!isIsoInstant(value)) return null;
  return new Date(Date.parse(value)).toISOString().slice(0, 10);
}

/**
 * A real ISO 8601 instant: with `Z` or an offset (a time without one would be read in the admin
 * process's time zone) and a day that exists (Date.parse rolls `2030-02-30` over to March 2).
 * The same check as `expires_at`.
 */
const ISO_INSTANT = z.iso.datetime({ offset: true });
function isIsoInstant(value: string): boolean {
  return ISO_INSTANT.safeParse(value).success;
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

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV of the rows (header = the keys of the first row, or `fields` when there is none). */
function toCsv(rows: Record<string, unknown>[], fields: string[]): string {
  const lines = [fields.join(',')];
  for (const row of rows) lines.push(fields.map((field) => csvCell(row[field])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

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
      if (query.since !== undefined && query.until !== undefined && query.since > query.until) {
        throw new KeygateError('invalid_request', { param: 'since', message: '`since` is after `until`.' });
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

      // Days (`from`/`to`, inclusive) and instants (`since` inclusive, `until` exclusive), by UTC hour.
      const filter: UsageFilter = {
        scope: scope.type === 'all' ? null : { type: scope.type, id: scope.id! },
        bounds: {
          atLeast: [
            query.from === undefined ? undefined : Date.parse(`${query.from}T00:00:00Z`),
            query.since,
          ],
          below: [
            query.to === undefined ? undefined : Date.parse(`${query.to}T00:00:00Z`) + DAY_MS,
            query.until,
          ],
        },
      };
      const totals = usageTotals(deps.db, filter);
      let data: Record<string, unknown>[] = [];
      const groupBy = query.group_by;
      const group = groupBy === undefined ? undefined : { field: GROUP_FIELD[groupBy] };
      if (groupBy !== undefined && group !== undefined) {
        const rows = usageByGroup(deps.db, filter, {
          group: groupBy,
          order: query.order_by,
          limit: query.limit ?? -1,
        });
        data = rows.map((row) => ({ [group.field]: row.bucket, ...totalsView(row) }));
      }
      const csv = query.format === 'csv' || (c.req.header('accept') ?? '').includes('text/csv');
      if (csv) {
        const fields = ['requests', 'input_tokens', 'output_tokens', 'total_tokens', 'spend'];
        const text =
          group === undefined ? toCsv([totalsView(totals)], fields) : toCsv(data, [group.field, ...fields]);
        // The route's typed responses are JSON; CSV is the same data rendered as text.
        return new Response(text, {
          status: 200,
          headers: { 'content-type': 'text/csv; charset=utf-8' },
        }) as unknown as ReturnType<typeof c.json<{ csv: string }, 200>>;
      }
      return c.json(
        {
          scope,
          from: query.from ?? null,
          to: query.to ?? null,
          since: query.since === undefined ? null : new Date(query.since).toISOString(),
          until: query.until === undefined ? null : new Date(query.until).toISOString(),
          group_by: query.group_by ?? null,
          order_by: query.order_by ?? null,
          totals: totalsView(totals),
          data,
        },
        200,
      );
    },
  );
}
