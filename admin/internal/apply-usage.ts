/**
 * `POST /internal/usage`: applies a gateway's usage batch exactly once.
 * One `BEGIN IMMEDIATE` transaction records (gatewayId, batchId) and adds the batch's spend to
 * key (its key_usage row), team and org, its counts to usage_hourly (UTC hour of each item's last
 * request), and moves the key's `last_used_at` forward; a batch already recorded changes nothing
 * (`applied: false`), so a gateway may resend a batch whose answer it lost without double
 * counting. The statements (set-based, issue 15) are src/storage/usage-batch-repository.ts.
 *
 * Issue 14: budget periods: a scope with a `budget_period` also adds to the spend of the period
 * containing the item's last request (calendar-aligned UTC, src/budget/period.ts); an item of a
 * later period starts the period's spend over, one of an earlier period is only lifetime spend.
 * Only items of scopes with a period are read back for that; an item later than the admin's
 * `now` (a gateway's clock ahead) counts in the current period. Soft budgets: the first batch that
 * takes a scope's period (or lifetime) spend to its `soft_budget` records one `budget_alerts` row
 * and a `budget.soft_exceeded` audit entry, and returns the alert for the webhook (sent after the
 * commit, admin/alerts/alert-webhook.ts).
 */
import { periodStart, type BudgetPeriod } from '../../src/budget/period.js';
import { microsToUsd } from '../../src/money.js';
import type { Scope } from '../../src/policy/limits.js';
import type { UsageReport } from '../../src/usage/usage-report.js';
import { immediate, type Database } from '../../src/storage/database.js';
import { recordAudit } from '../../src/storage/journal.js';
import { usageBatchWriter, type UsageBatchWriter } from '../../src/storage/usage-batch-repository.js';

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
  const writer = usageBatchWriter(db);
  return immediate(db, () => {
    if (!writer.recordBatch(report.gatewayId, report.batchId, report.batchSeq, now)) return false;
    if (report.items.length === 0) return true;
    writer.addItems(report.items);
    if (writer.anyBudgetPolicy()) applyPeriodsAndSoftBudgets(db, writer, now, alerts);
    writer.clearItems();
    return true;
  });
}

/** Period spend of the scopes with a budget period, then the soft-budget check of touched scopes. */
function applyPeriodsAndSoftBudgets(
  db: Database,
  writer: UsageBatchWriter,
  now: number,
  alerts: SoftBudgetAlert[],
): void {
  const totals = new Map<string, { scope: Scope; id: string; start: number; micros: number; at: number }>();
  const add = (scope: Scope, id: string, period: BudgetPeriod | null, at: number, micros: number) => {
    if (period === null || micros === 0) return;
    const start = periodStart(period, at);
    const key = `${scope}\u0000${id}\u0000${start}`;
    const entry = totals.get(key);
    if (entry === undefined) totals.set(key, { scope, id, start, micros, at });
    else {
      entry.micros += micros;
      entry.at = Math.max(entry.at, at);
    }
  };
  for (const item of writer.periodItems()) {
    // Usage is never later than now: an item of a gateway whose clock runs ahead (a month, say)
    // started that later period over, and the spend of the current period, counted again from
    // zero when the clock came back, was forgotten by the period budget.
    const at = Math.min(item.last_used_at, now);
    add('key', item.key_id, item.key_period, at, item.spend_micros);
    add('team', item.team_id, item.team_period, at, item.spend_micros);
    add('org', item.org_id, item.org_period, at, item.spend_micros);
  }
  // Earlier periods first, so a batch spanning a boundary ends on the later one.
  for (const entry of [...totals.values()].sort((a, b) => a.start - b.start)) {
    writer.addPeriodSpend(entry.scope, entry.id, entry.start, entry.micros, entry.at);
  }
  for (const { scope, id } of writer.softBudgetScopes()) checkSoftBudget(db, writer, scope, id, now, alerts);
}

function checkSoftBudget(
  db: Database,
  writer: UsageBatchWriter,
  scope: Scope,
  id: string,
  now: number,
  alerts: SoftBudgetAlert[],
): void {
  const row = writer.softBudget(scope, id);
  if (row === undefined) return;
  const periodic = row.budget_period !== null;
  const spend = periodic ? row.period_spend_micros : row.spend_micros;
  if (spend < row.soft_budget_micros) return;
  const start = periodic ? (row.period_start ?? 0) : 0;
  if (!writer.recordAlert(scope, id, start, now)) return;
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
