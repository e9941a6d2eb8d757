/**
 * `POST /internal/usage` (notes/contract.md): applies a gateway's usage batch exactly once.
 * One `BEGIN IMMEDIATE` transaction records (gatewayId, batchId) and adds the batch's spend to
 * key, team and org, its counts to usage_daily (UTC day of each item's last request) and moves
 * `last_used_at` forward; a batch already recorded changes nothing (`applied: false`), so a
 * gateway may resend a batch whose answer it lost without double counting.
 *
 * Items of keys deleted meanwhile are skipped: their team and org are no longer known.
 */
import type { UsageReport } from '../../src/usage/usage-report.js';
import { immediate, type Database } from '../../src/storage/database.js';

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function prepareStatements(db: Database) {
  return {
    recordBatch: db.prepare(
      'INSERT OR IGNORE INTO usage_batches (gateway_id, batch_id, batch_seq, received_at) VALUES (?, ?, ?, ?)',
    ),
    findKey: db.prepare<[string], { team_id: string; org_id: string }>(
      'SELECT k.team_id, t.org_id FROM keys k JOIN teams t ON t.id = k.team_id WHERE k.id = ?',
    ),
    addKey: db.prepare(
      'UPDATE keys SET spend_micros = spend_micros + ?, last_used_at = MAX(IFNULL(last_used_at, 0), ?) WHERE id = ?',
    ),
    addTeam: db.prepare('UPDATE teams SET spend_micros = spend_micros + ? WHERE id = ?'),
    addOrg: db.prepare('UPDATE orgs SET spend_micros = spend_micros + ? WHERE id = ?'),
    addDaily: db.prepare(
      `INSERT INTO usage_daily (key_id, team_id, org_id, target, day, requests, input_tokens, output_tokens, spend_micros)
       VALUES (@keyId, @teamId, @orgId, @target, @day, @requests, @inputTokens, @outputTokens, @spendMicros)
       ON CONFLICT (key_id, target, day) DO UPDATE SET
         requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens,
         spend_micros = spend_micros + excluded.spend_micros`,
    ),
  };
}

const STATEMENTS = new WeakMap<Database, ReturnType<typeof prepareStatements>>();

function addTo(totals: Map<string, number>, id: string, micros: number): void {
  if (micros !== 0) totals.set(id, (totals.get(id) ?? 0) + micros);
}

export function applyUsage(db: Database, report: UsageReport, now: number): boolean {
  let statements = STATEMENTS.get(db);
  if (statements === undefined) {
    statements = prepareStatements(db);
    STATEMENTS.set(db, statements);
  }
  const { recordBatch, findKey, addKey, addTeam, addOrg, addDaily } = statements;
  return immediate(db, () => {
    const inserted = recordBatch.run(report.gatewayId, report.batchId, report.batchSeq, now);
    if (inserted.changes === 0) return false;
    // Team and org spend is summed over the batch first: one UPDATE per scope, not per item.
    const teamSpend = new Map<string, number>();
    const orgSpend = new Map<string, number>();
    for (const item of report.items) {
      const key = findKey.get(item.keyId);
      if (key === undefined) continue;
      addKey.run(item.spendMicros, item.lastUsedAt, item.keyId);
      addTo(teamSpend, key.team_id, item.spendMicros);
      addTo(orgSpend, key.org_id, item.spendMicros);
      addDaily.run({
        keyId: item.keyId,
        teamId: key.team_id,
        orgId: key.org_id,
        target: item.target,
        day: utcDay(item.lastUsedAt),
        requests: item.requests,
        inputTokens: item.inputTokens,
        outputTokens: item.outputTokens,
        spendMicros: item.spendMicros,
      });
    }
    for (const [teamId, micros] of teamSpend) addTeam.run(micros, teamId);
    for (const [orgId, micros] of orgSpend) addOrg.run(micros, orgId);
    return true;
  });
}
