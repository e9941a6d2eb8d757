/**
 * Usage writes in SQLite: the statements of a gateway's usage batch (admin/internal/apply-usage.ts
 * runs them in one `BEGIN IMMEDIATE` transaction; the reads are usage-repository.ts).
 *
 * Set-based (issue 15): a flush of a gateway serving 100,000 keys carries thousands of distinct
 * keys. The items go into a temp table in prepared batches of 512 (one multi-row statement per
 * batch, joined with keys and teams there), then ONE statement per table applies them: key_usage
 * (a key's spend and last use, migration 7: the wide keys row is not written by usage), teams and
 * orgs, each summing the batch per row with GROUP BY, and usage_hourly (usage_daily, which nothing
 * read, is a view over usage_hourly since migration 7). The former loop ran four statements per
 * item (a lookup, the key, the daily row, plus team/org sums); now a flush of 10,000 items runs 20
 * fill statements and 4 updates, and what is left per item is SQLite's own b-tree work. Measured
 * (10,000 distinct keys, in-memory db, loaded machine): ~4.5-6 µs per item against ~7 µs row by
 * row (a JSON parameter through json_each was tried first: re-parsing each row's JSON made it no
 * faster). Since then the items are filled in key-id order and usage_hourly takes them one upsert
 * each in that order, without a GROUP BY sorter: ~3 µs per item less with 3,400 random keys of
 * 100,000 per flush (bench/README.md, usage-apply section).
 *
 * Items of keys deleted meanwhile still count for their team and org (read from the key's
 * `key.delete` audit row); items of keys that never existed are skipped. Issue 14: the same temp table also feeds usage_hourly (UTC hour, the key's owner,
 * key tags ∪ the request tags of the item) in one statement, and the period and soft-budget
 * reads of the batch.
 */
import type { BudgetPeriod } from '../budget/period.js';
import type { Scope } from '../policy/limits.js';
import type { UsageItem } from '../usage/usage-report.js';
import type { Database } from './database.js';

type Statement = ReturnType<Database['prepare']>;

const HOUR_MS = 3_600_000;

/** An item of the batch whose key, team or org has a budget period. */
export interface PeriodItem {
  key_id: string;
  team_id: string;
  org_id: string;
  spend_micros: number;
  last_used_at: number;
  key_period: BudgetPeriod | null;
  team_period: BudgetPeriod | null;
  org_period: BudgetPeriod | null;
}

/** A key, team or org with a soft budget: what its soft-budget check reads. */
export interface SoftBudgetRow {
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
  requests INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL, spend_micros INTEGER NOT NULL, last_used_at INTEGER NOT NULL,
  user_id TEXT, tags TEXT NOT NULL, key_num INTEGER)`;

/** Items bound per fill statement (8 parameters each, well under SQLite's 32,766). */
const CHUNK = 512;

/**
 * A deleted key's `key.delete` audit row (written in the delete's transaction, with the key's
 * team and org and its last view as `before`): where the items of a key deleted meanwhile find
 * their team, owner and tags. Evaluated only for items whose key is gone (inside CASE).
 */
const DELETED = (column: string) =>
  `(SELECT ${column} FROM audit_log a WHERE a.entity_type = 'key' AND a.entity_id = v.column1 AND a.action = 'key.delete' LIMIT 1)`;

/**
 * Inserts `rows` items (bound as 8 parameters each: the 7 fields and the request tags as JSON or
 * null) into the temp table, with team, org, owner and tags (the key's, plus the request's).
 *
 * The items of a key deleted after the gateway admitted them keep their spend in the key's team
 * and org (and in usage): the gateway charged both when it admitted the requests, and a team
 * budget must not forget it (they were skipped, so deleting a key with requests in flight or
 * unreported spend took that spend off the team's and org's budgets). The key row itself is
 * gone, so its team, owner and tags come from its `key.delete` audit row.
 */
function prepareFill(db: Database, rows: number) {
  const values = new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  return db.prepare(
    `INSERT INTO temp.usage_batch_items
     SELECT x.key_id, x.team_id, t.org_id, x.target, x.requests, x.input_tokens, x.output_tokens, x.spend, x.at, x.user_id,
            CASE WHEN x.request_tags IS NULL THEN x.key_tags ELSE (SELECT json_group_array(value) FROM
              (SELECT value FROM json_each(x.key_tags) UNION SELECT value FROM json_each(x.request_tags) ORDER BY value)) END,
            x.key_num
     FROM (
       SELECT v.column1 AS key_id, v.column2 AS target, v.column3 AS requests, v.column4 AS input_tokens,
              v.column5 AS output_tokens, v.column6 AS spend, v.column7 AS at, v.column8 AS request_tags,
              CASE WHEN k.id IS NOT NULL THEN k.team_id ELSE ${DELETED('a.team_id')} END AS team_id,
              CASE WHEN k.id IS NOT NULL THEN k.owner_user_id ELSE ${DELETED(
                "CASE WHEN json_extract(a.before, '$.owner.type') = 'user' THEN json_extract(a.before, '$.owner.id') END",
              )} END AS user_id,
              CASE WHEN k.id IS NOT NULL THEN k.tags ELSE ${DELETED("IFNULL(json_extract(a.before, '$.tags'), '[]')")} END AS key_tags,
              k.num AS key_num
       FROM (VALUES ${values}) v LEFT JOIN keys k ON k.id = v.column1
     ) x JOIN teams t ON t.id = x.team_id`,
  );
}

function prepareStatements(db: Database) {
  // A temp table of an older shape (before migration 7's key_num) is replaced.
  const columns = db.prepare("SELECT name FROM temp.pragma_table_info('usage_batch_items')").all() as {
    name: string;
  }[];
  if (columns.length > 0 && !columns.some((column) => column.name === 'key_num'))
    db.exec('DROP TABLE temp.usage_batch_items');
  db.exec(ITEMS_TABLE);
  const fills = new Map<number, Statement>();
  // A later period starts the spend over; so does a stored start that is no start of this
  // period (the budget period was switched to a longer one: items at or after it, @at, belong to
  // an earlier start); a late item of an earlier period (@at before the stored start) changes nothing.
  const restart = 'period_start IS NULL OR period_start < @start OR period_start <= @at';
  const addPeriod = `SET
    period_spend_micros = CASE WHEN period_start = @start THEN period_spend_micros + @micros
      WHEN ${restart} THEN @micros ELSE period_spend_micros END,
    period_start = CASE WHEN ${restart} THEN @start ELSE period_start END`;
  const period = (table: 'teams' | 'orgs') =>
    db.prepare(`UPDATE ${table} ${addPeriod} WHERE id = @id AND budget_period IS NOT NULL`);
  const soft = (table: 'teams' | 'orgs') =>
    db.prepare<[string], SoftBudgetRow>(
      `SELECT id, budget_period, soft_budget_micros, max_budget_micros, spend_micros, period_spend_micros, period_start
       FROM ${table} WHERE id = ? AND soft_budget_micros IS NOT NULL`,
    );
  // A key's spend and period spend are in its usage row (migration 7; addKeys wrote it in this batch).
  const keyPeriod = db.prepare(
    `UPDATE key_usage ${addPeriod}
     WHERE key_num = (SELECT num FROM keys WHERE id = @id AND budget_period IS NOT NULL)`,
  );
  const keySoft = db.prepare<[string], SoftBudgetRow>(
    `SELECT k.id, k.budget_period, k.soft_budget_micros, k.max_budget_micros, IFNULL(u.spend_micros, 0) AS spend_micros,
       IFNULL(u.period_spend_micros, 0) AS period_spend_micros, u.period_start
     FROM keys k LEFT JOIN key_usage u ON u.key_num = k.num WHERE k.id = ? AND k.soft_budget_micros IS NOT NULL`,
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
    // Keys' usage rows (migration 7), created on a key's first use; items of deleted keys
    // (no key_num) have none.
    addKeys: db.prepare(
      `INSERT INTO key_usage (key_num, spend_micros, last_used_at)
       SELECT key_num, SUM(spend_micros), MAX(last_used_at)
       FROM temp.usage_batch_items WHERE key_num IS NOT NULL GROUP BY key_num
       ON CONFLICT (key_num) DO UPDATE SET spend_micros = spend_micros + excluded.spend_micros,
         last_used_at = MAX(IFNULL(last_used_at, 0), excluded.last_used_at)`,
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
    // One upsert per item, in the temp table's order (by key id, see addItems): two items of one
    // row (key, target, hour, tags) add up through ON CONFLICT like a GROUP BY sum would, without
    // its sorter; the ordered upserts walk usage_hourly's b-tree in order.
    addHourly: db.prepare(
      `INSERT INTO usage_hourly (key_id, team_id, org_id, user_id, target, hour, tags, requests, input_tokens, output_tokens, spend_micros)
       SELECT key_id, team_id, org_id, user_id, target, (last_used_at / ${HOUR_MS}) * ${HOUR_MS}, tags,
              requests, input_tokens, output_tokens, spend_micros
       FROM temp.usage_batch_items WHERE true
       ON CONFLICT (key_id, target, hour, tags) DO UPDATE SET
         requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens,
         spend_micros = spend_micros + excluded.spend_micros`,
    ),
    periodItems: db.prepare<[], PeriodItem>(
      `SELECT i.key_id, i.team_id, i.org_id, i.spend_micros, i.last_used_at, k.budget_period AS key_period,
              t.budget_period AS team_period, o.budget_period AS org_period
       FROM temp.usage_batch_items i LEFT JOIN keys k ON k.id = i.key_id JOIN teams t ON t.id = i.team_id
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
    addPeriod: { key: keyPeriod, team: period('teams'), org: period('orgs') },
    soft: { key: keySoft, team: soft('teams'), org: soft('orgs') },
    recordAlert: db.prepare(
      'INSERT OR IGNORE INTO budget_alerts (scope_type, scope_id, period_start, at) VALUES (?, ?, ?, ?)',
    ),
    clear: db.prepare('DELETE FROM temp.usage_batch_items'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

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
 * The items ordered by key id: the fill's key lookups and usage_hourly's upserts (both keyed by
 * the key id) then visit their b-trees in order instead of at random (~0.7 µs per item to sort,
 * ~2.5 µs per item less in those two statements with 3,400 random keys per flush). Only the
 * order of the work changes: every sum is the same in any order.
 */
function byKeyId(items: readonly UsageItem[]): UsageItem[] {
  return items.slice().sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}

/**
 * The writes of one usage batch over one database. Call inside one write transaction:
 * `recordBatch`, then `addItems`, then the period and soft-budget steps (which read the items
 * `addItems` left in the temp table), then `clearItems`.
 */
export class UsageBatchWriter {
  constructor(private readonly s: Statements) {}

  /** Records (gateway, batch); false when that batch was recorded before (nothing to apply). */
  recordBatch(gatewayId: string, batchId: string, batchSeq: number, now: number): boolean {
    return this.s.recordBatch.run(gatewayId, batchId, batchSeq, now).changes > 0;
  }

  /** Adds the items' spend and counts to keys' usage rows, teams, orgs and usage_hourly. */
  addItems(items: readonly UsageItem[]): void {
    const s = this.s;
    s.clear.run();
    const ordered = byKeyId(items);
    for (let from = 0; from < ordered.length; from += CHUNK) {
      const to = Math.min(ordered.length, from + CHUNK);
      s.fill(to - from).run(chunkParams(ordered, from, to));
    }
    s.addKeys.run();
    s.addTeams.run();
    s.addOrgs.run();
    s.addHourly.run();
  }

  /** Whether any key, team or org has a budget period or a soft budget (one index probe, migration 5). */
  anyBudgetPolicy(): boolean {
    return this.s.anyBudgetPolicy.get()!.any === 1;
  }

  /** The batch's items of keys, teams or orgs that have a budget period. */
  periodItems(): PeriodItem[] {
    return this.s.periodItems.all();
  }

  /**
   * Adds `micros` to the period starting at `start`, whose last item is at `at` (a later period,
   * or a stored start that is no start of this period, starts the spend over).
   */
  addPeriodSpend(scope: Scope, id: string, start: number, micros: number, at: number): void {
    this.s.addPeriod[scope].run({ id, start, micros, at });
  }

  /** The batch's keys, teams and orgs that have a soft budget. */
  softBudgetScopes(): { scope: Scope; id: string }[] {
    return this.s.softScopes.all();
  }

  softBudget(scope: Scope, id: string): SoftBudgetRow | undefined {
    return this.s.soft[scope].get(id);
  }

  /** Records the alert of (scope, id, period start); false when it was recorded before. */
  recordAlert(scope: Scope, id: string, periodStart: number, now: number): boolean {
    return this.s.recordAlert.run(scope, id, periodStart, now).changes > 0;
  }

  clearItems(): void {
    this.s.clear.run();
  }
}

const WRITERS = new WeakMap<Database, UsageBatchWriter>();

/** The usage batch writer of `db` (its statements prepared on first use). */
export function usageBatchWriter(db: Database): UsageBatchWriter {
  let writer = WRITERS.get(db);
  if (writer === undefined) {
    writer = new UsageBatchWriter(prepareStatements(db));
    WRITERS.set(db, writer);
  }
  return writer;
}
