/**
 * Usage reads in SQLite: sums of the hour-granular `usage_hourly` aggregates (requests, tokens,
 * spend) over a scope and a time range, in total or per group. The writes of a gateway's usage
 * batch are usage-batch-repository.ts.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export const USAGE_GROUPS = ['day', 'target', 'key', 'team', 'org', 'user', 'tag', 'hour'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];
export type UsageOrder = 'spend' | 'requests' | 'tokens';

export interface UsageTotals {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  spend_micros: number;
}

/** Which rows count: one key, team or org (or all), and hour bounds (`from*` inclusive, `below*` exclusive). */
export interface UsageFilter {
  scope: { type: 'key' | 'team' | 'org'; id: string } | null;
  bounds: { atLeast: (number | undefined)[]; below: (number | undefined)[] };
}

/** The bucket of each grouping over `usage_hourly u` (tag: one row per tag, through json_each). */
const GROUP_SQL: Record<UsageGroup, { expr: string; from?: string }> = {
  day: { expr: "strftime('%Y-%m-%d', u.hour / 1000, 'unixepoch')" },
  hour: { expr: "strftime('%Y-%m-%dT%H:00:00.000Z', u.hour / 1000, 'unixepoch')" },
  target: { expr: 'u.target' },
  key: { expr: 'u.key_id' },
  team: { expr: 'u.team_id' },
  org: { expr: 'u.org_id' },
  user: { expr: 'u.user_id' },
  tag: { expr: 'tag.value', from: ', json_each(u.tags) AS tag' },
};

const ORDER_SQL: Record<UsageOrder, string> = {
  spend: 'spend_micros DESC',
  requests: 'requests DESC',
  tokens: 'input_tokens + output_tokens DESC',
};

const SUMS = `IFNULL(SUM(u.requests), 0) AS requests, IFNULL(SUM(u.input_tokens), 0) AS input_tokens,
  IFNULL(SUM(u.output_tokens), 0) AS output_tokens, IFNULL(SUM(u.spend_micros), 0) AS spend_micros`;

function whereClause(filter: UsageFilter): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter.scope !== null) {
    conditions.push(`u.${filter.scope.type}_id = ?`);
    params.push(filter.scope.id);
  }
  const add = (condition: string, values: (number | undefined)[]) => {
    for (const value of values) {
      if (value === undefined) continue;
      conditions.push(condition);
      params.push(value);
    }
  };
  add('u.hour >= ?', filter.bounds.atLeast);
  add('u.hour < ?', filter.bounds.below);
  return { where: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, params };
}

export function usageTotals(db: Database, filter: UsageFilter): UsageTotals {
  const { where, params } = whereClause(filter);
  return prepared(db, `SELECT ${SUMS} FROM usage_hourly u ${where}`).get(...params) as UsageTotals;
}

/** Sums per bucket of `group`, ordered by `order` (descending) then bucket, at most `limit` (-1: all). */
export function usageByGroup(
  db: Database,
  filter: UsageFilter,
  grouping: { group: UsageGroup; order: UsageOrder | undefined; limit: number },
): (UsageTotals & { bucket: string })[] {
  const { where, params } = whereClause(filter);
  const group = GROUP_SQL[grouping.group];
  const order = grouping.order === undefined ? 'bucket' : `${ORDER_SQL[grouping.order]}, bucket`;
  return prepared(
    db,
    `SELECT ${group.expr} AS bucket, ${SUMS} FROM usage_hourly u${group.from ?? ''} ${where}
     GROUP BY bucket ORDER BY ${order} LIMIT ?`,
  ).all(...params, grouping.limit) as (UsageTotals & { bucket: string })[];
}
