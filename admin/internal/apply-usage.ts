/**
 * `POST /internal/usage` (notes/contract.md): applies a gateway's usage batch exactly once.
 * One `BEGIN IMMEDIATE` transaction records (gatewayId, batchId) and adds the batch's spend to
 * key, team and org, its counts to usage_daily (UTC day of each item's last request) and
 * usage_hourly (UTC hour, with the key's owner and tags) and moves `last_used_at` forward; a
 * batch already recorded changes nothing (`applied: false`), so a gateway may resend a batch
 * whose answer it lost without double counting.
 *
 * Budget periods (issue 14 item 2): a scope with a `budget_period` also adds to the spend of the
 * period containing the item's last request (calendar-aligned UTC, src/budget/period.ts); an item
 * of a later period starts the period's spend over, one of an earlier period is only lifetime spend.
 * Soft budgets: the first batch that takes a scope's period (or lifetime) spend to its
 * `soft_budget` records one `budget_alerts` row and a `budget.soft_exceeded` audit entry, and
 * returns the alert for the webhook (sent after the commit, admin/alerts/alert-webhook.ts).
 *
 * Items of keys deleted meanwhile are skipped: their team and org are no longer known.
 */
import { periodStart, type BudgetPeriod } from '../../src/budget/period.js';
import type { Scope } from '../../src/policy/limits.js';
import { microsToUsd } from '../../src/money.js';
import type { UsageReport } from '../../src/usage/usage-report.js';
import { immediate, type Database } from '../../src/storage/database.js';
import { recordAudit } from '../../src/storage/journal.js';

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

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function prepareStatements(db: Database) {
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
    recordBatch: db.prepare(
      'INSERT OR IGNORE INTO usage_batches (gateway_id, batch_id, batch_seq, received_at) VALUES (?, ?, ?, ?)',
    ),
    findKey: db.prepare<[string], KeyScopes>(
      `SELECT k.team_id, t.org_id, k.owner_user_id, k.tags, k.budget_period AS key_period,
              t.budget_period AS team_period, o.budget_period AS org_period
       FROM keys k JOIN teams t ON t.id = k.team_id JOIN orgs o ON o.id = t.org_id WHERE k.id = ?`,
    ),
    addKey: db.prepare(
      'UPDATE keys SET spend_micros = spend_micros + ?, last_used_at = MAX(IFNULL(last_used_at, 0), ?) WHERE id = ?',
    ),
    addTeam: db.prepare('UPDATE teams SET spend_micros = spend_micros + ? WHERE id = ?'),
    addOrg: db.prepare('UPDATE orgs SET spend_micros = spend_micros + ? WHERE id = ?'),
    addPeriod: { key: period('keys'), team: period('teams'), org: period('orgs') },
    soft: { key: soft('keys'), team: soft('teams'), org: soft('orgs') },
    recordAlert: db.prepare(
      'INSERT OR IGNORE INTO budget_alerts (scope_type, scope_id, period_start, at) VALUES (?, ?, ?, ?)',
    ),
    addDaily: db.prepare(
      `INSERT INTO usage_daily (key_id, team_id, org_id, target, day, requests, input_tokens, output_tokens, spend_micros)
       VALUES (@keyId, @teamId, @orgId, @target, @day, @requests, @inputTokens, @outputTokens, @spendMicros)
       ON CONFLICT (key_id, target, day) DO UPDATE SET
         requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens,
         spend_micros = spend_micros + excluded.spend_micros`,
    ),
    addHourly: db.prepare(
      `INSERT INTO usage_hourly (key_id, team_id, org_id, user_id, target, hour, tags, requests, input_tokens, output_tokens, spend_micros)
       VALUES (@keyId, @teamId, @orgId, @userId, @target, @hour, @tags, @requests, @inputTokens, @outputTokens, @spendMicros)
       ON CONFLICT (key_id, target, hour, tags) DO UPDATE SET
         requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens,
         spend_micros = spend_micros + excluded.spend_micros`,
    ),
  };
}

interface KeyScopes {
  team_id: string;
  org_id: string;
  owner_user_id: string | null;
  tags: string;
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

const STATEMENTS = new WeakMap<Database, ReturnType<typeof prepareStatements>>();

/** Per scope: id → (period start → micros); period start 0 = lifetime only. */
type Totals = Map<string, Map<number, number>>;

function addTo(totals: Totals, id: string, start: number, micros: number): void {
  if (micros === 0) return;
  let periods = totals.get(id);
  if (periods === undefined) totals.set(id, (periods = new Map()));
  periods.set(start, (periods.get(start) ?? 0) + micros);
}

/** The tags a usage item is reported under: the key's plus the request's (deduplicated, sorted). */
function tagsOf(keyTags: string, requestTags: readonly string[] | undefined): string {
  if (requestTags === undefined || requestTags.length === 0) return keyTags;
  return JSON.stringify([...new Set([...(JSON.parse(keyTags) as string[]), ...requestTags])].sort());
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
  const s = statements;
  return immediate(db, () => {
    const inserted = s.recordBatch.run(report.gatewayId, report.batchId, report.batchSeq, now);
    if (inserted.changes === 0) return false;
    // Spend is summed over the batch first: one UPDATE per scope and period, not per item.
    const totals: Record<Scope, Totals> = { key: new Map(), team: new Map(), org: new Map() };
    for (const item of report.items) {
      const key = s.findKey.get(item.keyId);
      if (key === undefined) continue;
      s.addKey.run(item.spendMicros, item.lastUsedAt, item.keyId);
      const at = item.lastUsedAt;
      const start = (period: BudgetPeriod | null) => (period === null ? 0 : periodStart(period, at));
      addTo(totals.key, item.keyId, start(key.key_period), item.spendMicros);
      addTo(totals.team, key.team_id, start(key.team_period), item.spendMicros);
      addTo(totals.org, key.org_id, start(key.org_period), item.spendMicros);
      const counts = {
        keyId: item.keyId,
        teamId: key.team_id,
        orgId: key.org_id,
        target: item.target,
        requests: item.requests,
        inputTokens: item.inputTokens,
        outputTokens: item.outputTokens,
        spendMicros: item.spendMicros,
      };
      s.addDaily.run({ ...counts, day: utcDay(at) });
      s.addHourly.run({
        ...counts,
        userId: key.owner_user_id,
        hour: Math.floor(at / HOUR_MS) * HOUR_MS,
        tags: tagsOf(key.tags, item.tags),
      });
    }
    for (const scope of ['key', 'team', 'org'] as const) {
      for (const [id, periods] of totals[scope]) {
        let lifetime = 0;
        for (const [start, micros] of periods) {
          lifetime += micros;
          if (start !== 0) s.addPeriod[scope].run({ id, start, micros });
        }
        if (scope === 'team') s.addTeam.run(lifetime, id);
        else if (scope === 'org') s.addOrg.run(lifetime, id);
        checkSoftBudget(db, s, scope, id, now, alerts);
      }
    }
    return true;
  });
}

function checkSoftBudget(
  db: Database,
  s: ReturnType<typeof prepareStatements>,
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
