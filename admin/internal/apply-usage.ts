/**
 * `POST /internal/usage` (notes/contract.md): applies a gateway's usage batch exactly once.
 * One `BEGIN IMMEDIATE` transaction records (gatewayId, batchId) and adds the batch's spend to
 * key, team and org, its counts to usage_daily (UTC day of each item's last request) and moves
 * `last_used_at` forward; a batch already recorded changes nothing (`applied: false`), so a
 * gateway may resend a batch whose answer it lost without double counting.
 *
 * Set-based (issue 15): a flush of a gateway serving 100,000 keys carries thousands of distinct
 * keys. The items go into a temp table in prepared batches of 512 (one multi-row statement per
 * batch, joined with keys and teams there), then ONE statement per table applies them: keys,
 * teams, orgs, usage_daily, each summing the batch per row with GROUP BY. The former loop ran
 * four statements per item (a lookup, the key, the daily row, plus team/org sums); now a flush
 * of 10,000 items runs 20 fill statements and 4 updates, and what is left per item is SQLite's
 * own b-tree work. Measured (10,000 distinct keys, in-memory db, loaded machine): ~4.5-6 µs per
 * item against ~7 µs row by row (a JSON parameter through json_each was tried first: re-parsing
 * each row's JSON made it no faster).
 *
 * Items of keys deleted meanwhile are skipped (the join finds no key): their team and org are no
 * longer known.
 *
 * Issue 14: the same temp table also feeds usage_hourly (UTC hour, the key's owner, key tags ∪
 * the request tags of the item) in one statement. Budget periods: a scope with a `budget_period`
 * also adds to the spend of the period containing the item's last request (calendar-aligned
 * UTC, src/budget/period.ts); an item of a later period starts the period's spend over, one of
 * an earlier period is only lifetime spend. Only items of scopes with a period are read back for
 * that. Soft budgets: the first batch that takes a scope's period (or lifetime) spend to its
 * `soft_budget` records one `budget_alerts` row and a `budget.soft_exceeded` audit entry, and
 * returns the alert for the webhook (sent after the commit, admin/alerts/alert-webhook.ts).
 */
import { periodStart, type BudgetPeriod } from '../../src/budget/period.js';
import { microsToUsd } from '../../src/money.js';
import type { Scope } from '../../src/policy/limits.js';
import type { UsageItem, UsageReport } from '../../src/usage/usage-report.js';
import { immediate, type Database } from '../../src/storage/database.js';
import { recordAudit } from '../../src/storage/journal.js';

type Statement = ReturnType<Database['prepare']>;

const HOUR_MS = 3_600_000;

/** A soft budget crossed for the first time in its period (the webhook's JSON body). */
export interface SoftBudgetAlert {
  type: 'soft_budget_exceeded';
  scope: Scope;
  scope_id: string;
  budget_period: BudgetPeriod | null;
  /** ISO start of the period (null for a lifetime budget). */
  period_start: string | null;
  soft_budget: number;
  max_budget: number | null;
  spend: number;
  at: string;
}

interface PeriodItem {
  key_id: string;
  team_id: string;
  org_id: string;
  spend_micros: number;
  last_used_at: number;
  key_period: BudgetPeriod | null;
  team_period: BudgetPeriod | null;
  org_period: BudgetPeriod | null;
}

interface SoftRow {
  id: string;
  budget_period: BudgetPeriod | null;
  soft_budget_micros: number;
  max_budget_micros: number | null;
  spend_micros: number;
  period_spend_micros: number;
  period_start: number | null;
}

const ITEMS_TABLE = `CREATE TEMP TABLE IF NOT EXISTS usage_batch_items (
  key_id TEXT NOT NULL, team_id TEXT NOT NULL, org_id TEXT NOT NULL, target TEXT NOT NULL,
  day TEXT NOT NULL, requests INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL, spend_micros INTEGER NOT NULL, last_used_at INTEGER NOT NULL,
  user_id TEXT, tags TEXT NOT NULL)`;

/** Items bound per fill statement (8 parameters each, well under SQLite's 32,766). */
const CHUNK = 512;

/**
 * Inserts `rows` items (bound as 8 parameters each: the 7 fields and the request tags as JSON or
 * null) into the temp table, with team, org, owner and tags (the key's, plus the request's).
 */
function prepareFill(db: Database, rows: number) {
  const values = new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  return db.prepare(
    `INSERT INTO temp.usage_batch_items
     SELECT k.id, k.team_id, t.org_id, v.column2, strftime('%Y-%m-%d', v.column7 / 1000, 'unixepoch'),
            v.column3, v.column4, v.column5, v.column6, v.column7, k.owner_user_id,
            CASE WHEN v.column8 IS NULL THEN k.tags ELSE (SELECT json_group_array(value) FROM
              (SELECT value FROM json_each(k.tags) UNION SELECT value FROM json_each(v.column8) ORDER BY value)) END
     FROM (VALUES ${values}) v JOIN keys k ON k.id = v.column1 JOIN teams t ON t.id = k.team_id`,
  );
}

function prepareStatements(db: Database) {
  // A temp table of an older shape (before issue 14's columns) is replaced.
  const columns = db.prepare("SELECT name FROM temp.pragma_table_info('usage_batch_items')").all() as {
    name: string;
  }[];
  if (columns.length > 0 && !columns.some((column) => column.name === 'tags'))
    db.exec('DROP TABLE temp.usage_batch_items');
  db.exec(ITEMS_TABLE);
  const fills = new Map<number, Statement>();
  const period = (table: string) =>
    db.prepare(
      `UPDATE ${table} SET
         period_spend_micros = CASE WHEN period_start = @start THEN period_spend_micros + @micros
           WHEN period_start IS NULL OR period_start < @start THEN @micros ELSE period_spend_micros END,
         period_start = CASE WHEN period_start IS NULL OR period_start < @start THEN @start ELSE period_start END
       WHERE id = @id AND budget_period IS NOT NULL`,
    );
  const soft = (table: string) =>
    db.prepare<[string], SoftRow>(
      `SELECT id, budget_period, soft_budget_micros, max_budget_micros, spend_micros, period_spend_micros, period_start
       FROM ${table} WHERE id = ? AND soft_budget_micros IS NOT NULL`,
    );
  return {
    /** The fill statement for `rows` items: one per chunk size met, prepared once. */
    fill(rows: number): Statement {
      let statement = fills.get(rows);
      if (statement === undefined) {
        statement = prepareFill(db, rows);
        fills.set(rows, statement);
      }
      return statement;
    },
    recordBatch: db.prepare(
      'INSERT OR IGNORE INTO usage_batches (gateway_id, batch_id, batch_seq, received_at) VALUES (?, ?, ?, ?)',
    ),
    addKeys: db.prepare(
      `UPDATE keys SET spend_micros = spend_micros + s.spend,
         last_used_at = MAX(IFNULL(last_used_at, 0), s.last)
       FROM (SELECT key_id, SUM(spend_micros) AS spend, MAX(last_used_at) AS last
             FROM temp.usage_batch_items GROUP BY key_id) s
       WHERE keys.id = s.key_id`,
    ),
    addTeams: db.prepare(
      `UPDATE teams SET spend_micros = spend_micros + s.spend
       FROM (SELECT team_id, SUM(spend_micros) AS spend FROM temp.usage_batch_items GROUP BY team_id) s
       WHERE teams.id = s.team_id AND s.spend <> 0`,
    ),
    addOrgs: db.prepare(
      `UPDATE orgs SET spend_micros = spend_micros + s.spend
       FROM (SELECT org_id, SUM(spend_micros) AS spend FROM temp.usage_batch_items GROUP BY org_id) s
       WHERE orgs.id = s.org_id AND s.spend <> 0`,
    ),
    addDaily: db.prepare(
      `INSERT INTO usage_daily (key_id, team_id, org_id, target, day, requests, input_tokens, output_tokens, spend_micros)
       SELECT key_id, team_id, org_id, target, day,
              SUM(requests), SUM(input_tokens), SUM(output_tokens), SUM(spend_micros)
       FROM temp.usage_batch_items WHERE true GROUP BY key_id, target, day
       ON CONFLICT (key_id, target, day) DO UPDATE SET
         requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens,
         spend_micros = spend_micros + excluded.spend_micros`,
    ),
    addHourly: db.prepare(
      `INSERT INTO usage_hourly (key_id, team_id, org_id, user_id, target, hour, tags, requests, input_tokens, output_tokens, spend_micros)
       SELECT key_id, team_id, org_id, user_id, target, (last_used_at / ${HOUR_MS}) * ${HOUR_MS} AS h, tags,
              SUM(requests), SUM(input_tokens), SUM(output_tokens), SUM(spend_micros)
       FROM temp.usage_batch_items WHERE true GROUP BY key_id, target, h, tags
       ON CONFLICT (key_id, target, hour, tags) DO UPDATE SET
         requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens,
         spend_micros = spend_micros + excluded.spend_micros`,
    ),
    periodItems: db.prepare<[], PeriodItem>(
      `SELECT i.key_id, i.team_id, i.org_id, i.spend_micros, i.last_used_at, k.budget_period AS key_period,
              t.budget_period AS team_period, o.budget_period AS org_period
       FROM temp.usage_batch_items i JOIN keys k ON k.id = i.key_id JOIN teams t ON t.id = i.team_id
       JOIN orgs o ON o.id = i.org_id
       WHERE k.budget_period IS NOT NULL OR t.budget_period IS NOT NULL OR o.budget_period IS NOT NULL`,
    ),
    softScopes: db.prepare<[], { scope: Scope; id: string }>(
      `SELECT DISTINCT 'key' AS scope, i.key_id AS id FROM temp.usage_batch_items i JOIN keys x ON x.id = i.key_id WHERE x.soft_budget_micros IS NOT NULL
       UNION SELECT DISTINCT 'team', i.team_id FROM temp.usage_batch_items i JOIN teams x ON x.id = i.team_id WHERE x.soft_budget_micros IS NOT NULL
       UNION SELECT DISTINCT 'org', i.org_id FROM temp.usage_batch_items i JOIN orgs x ON x.id = i.org_id WHERE x.soft_budget_micros IS NOT NULL`,
    ),
    anyBudgetPolicy: db.prepare<[], { any: number }>(
      `SELECT EXISTS (SELECT 1 FROM keys WHERE budget_period IS NOT NULL OR soft_budget_micros IS NOT NULL)
           OR EXISTS (SELECT 1 FROM teams WHERE budget_period IS NOT NULL OR soft_budget_micros IS NOT NULL)
           OR EXISTS (SELECT 1 FROM orgs WHERE budget_period IS NOT NULL OR soft_budget_micros IS NOT NULL) AS any`,
    ),
    addPeriod: { key: period('keys'), team: period('teams'), org: period('orgs') },
    soft: { key: soft('keys'), team: soft('teams'), org: soft('orgs') },
    recordAlert: db.prepare(
      'INSERT OR IGNORE INTO budget_alerts (scope_type, scope_id, period_start, at) VALUES (?, ?, ?, ?)',
    ),
    clear: db.prepare('DELETE FROM temp.usage_batch_items'),
  };
}

const STATEMENTS = new WeakMap<Database, ReturnType<typeof prepareStatements>>();

/** Binds items [from, to) as the fill's parameters, 8 per item. */
function chunkParams(items: readonly UsageItem[], from: number, to: number): (string | number | null)[] {
  const params = new Array<string | number | null>((to - from) * 8);
  let p = 0;
  for (let i = from; i < to; i++) {
    const item = items[i]!;
    params[p++] = item.keyId;
    params[p++] = item.target;
    params[p++] = item.requests;
    params[p++] = item.inputTokens;
    params[p++] = item.outputTokens;
    params[p++] = item.spendMicros;
    params[p++] = item.lastUsedAt;
    params[p++] = item.tags === undefined || item.tags.length === 0 ? null : JSON.stringify(item.tags);
  }
  return params;
}

/**
 * Applies the batch; returns whether it was new. Soft-budget alerts raised by it are pushed to
 * `alerts` (to be delivered after the commit).
 */
export function applyUsage(
  db: Database,
  report: UsageReport,
  now: number,
  alerts: SoftBudgetAlert[] = [],
): boolean {
  let statements = STATEMENTS.get(db);
  if (statements === undefined) {
    statements = prepareStatements(db);
    STATEMENTS.set(db, statements);
  }
  const { recordBatch, fill, addKeys, addTeams, addOrgs, addDaily, clear } = statements;
  return immediate(db, () => {
    const inserted = recordBatch.run(report.gatewayId, report.batchId, report.batchSeq, now);
    if (inserted.changes === 0) return false;
    if (report.items.length === 0) return true;
    clear.run();
    const { items } = report;
    for (let from = 0; from < items.length; from += CHUNK) {
      const to = Math.min(items.length, from + CHUNK);
      fill(to - from).run(chunkParams(items, from, to));
    }
    addKeys.run();
    addTeams.run();
    addOrgs.run();
    addDaily.run();
    statements.addHourly.run();
    // Partial indexes (migration 5) make this one probe when no scope has a period or soft budget.
    if (statements.anyBudgetPolicy.get()!.any === 1) applyPeriodsAndSoftBudgets(db, statements, now, alerts);
    clear.run();
    return true;
  });
}

type Statements = ReturnType<typeof prepareStatements>;

/** Period spend of the scopes with a budget period, then the soft-budget check of touched scopes. */
function applyPeriodsAndSoftBudgets(
  db: Database,
  s: Statements,
  now: number,
  alerts: SoftBudgetAlert[],
): void {
  const totals = new Map<string, { scope: Scope; id: string; start: number; micros: number }>();
  const add = (scope: Scope, id: string, period: BudgetPeriod | null, at: number, micros: number) => {
    if (period === null || micros === 0) return;
    const start = periodStart(period, at);
    const key = `${scope}\u0000${id}\u0000${start}`;
    const entry = totals.get(key);
    if (entry === undefined) totals.set(key, { scope, id, start, micros });
    else entry.micros += micros;
  };
  for (const item of s.periodItems.all()) {
    add('key', item.key_id, item.key_period, item.last_used_at, item.spend_micros);
    add('team', item.team_id, item.team_period, item.last_used_at, item.spend_micros);
    add('org', item.org_id, item.org_period, item.last_used_at, item.spend_micros);
  }
  // Earlier periods first, so a batch spanning a boundary ends on the later one.
  for (const entry of [...totals.values()].sort((a, b) => a.start - b.start)) {
    s.addPeriod[entry.scope].run({ id: entry.id, start: entry.start, micros: entry.micros });
  }
  for (const { scope, id } of s.softScopes.all()) checkSoftBudget(db, s, scope, id, now, alerts);
}

function checkSoftBudget(
  db: Database,
  s: Statements,
  scope: Scope,
  id: string,
  now: number,
  alerts: SoftBudgetAlert[],
): void {
  const row = s.soft[scope].get(id);
  if (row === undefined) return;
  const periodic = row.budget_period !== null;
  const spend = periodic ? row.period_spend_micros : row.spend_micros;
  if (spend < row.soft_budget_micros) return;
  const start = periodic ? (row.period_start ?? 0) : 0;
  if (s.recordAlert.run(scope, id, start, now).changes === 0) return;
  const alert: SoftBudgetAlert = {
    type: 'soft_budget_exceeded',
    scope,
    scope_id: id,
    budget_period: row.budget_period,
    period_start: periodic ? new Date(start).toISOString() : null,
    soft_budget: microsToUsd(row.soft_budget_micros),
    max_budget: row.max_budget_micros === null ? null : microsToUsd(row.max_budget_micros),
    spend: microsToUsd(spend),
    at: new Date(now).toISOString(),
  };
  recordAudit(db, {
    actor: { type: 'system', id: null },
    via: 'system',
    action: 'budget.soft_exceeded',
    entityType: scope,
    entityId: id,
    after: alert,
    requestId: null,
    at: now,
  });
  alerts.push(alert);
}
