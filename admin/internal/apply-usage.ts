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
 */
import type { UsageItem, UsageReport } from '../../src/usage/usage-report.js';
import { immediate, type Database } from '../../src/storage/database.js';

type Statement = ReturnType<Database['prepare']>;

const ITEMS_TABLE = `CREATE TEMP TABLE IF NOT EXISTS usage_batch_items (
  key_id TEXT NOT NULL, team_id TEXT NOT NULL, org_id TEXT NOT NULL, target TEXT NOT NULL,
  day TEXT NOT NULL, requests INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL, spend_micros INTEGER NOT NULL, last_used_at INTEGER NOT NULL)`;

/** Items bound per fill statement (7 parameters each, well under SQLite's 32,766). */
const CHUNK = 512;

/** Inserts `rows` items (bound as 7 parameters each) into the temp table, with team and org. */
function prepareFill(db: Database, rows: number) {
  const values = new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ');
  return db.prepare(
    `INSERT INTO temp.usage_batch_items
     SELECT k.id, k.team_id, t.org_id, v.column2, strftime('%Y-%m-%d', v.column7 / 1000, 'unixepoch'),
            v.column3, v.column4, v.column5, v.column6, v.column7
     FROM (VALUES ${values}) v JOIN keys k ON k.id = v.column1 JOIN teams t ON t.id = k.team_id`,
  );
}

function prepareStatements(db: Database) {
  db.exec(ITEMS_TABLE);
  const fills = new Map<number, Statement>();
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
    clear: db.prepare('DELETE FROM temp.usage_batch_items'),
  };
}

const STATEMENTS = new WeakMap<Database, ReturnType<typeof prepareStatements>>();

/** Binds items [from, to) as the fill's parameters, 7 per item. */
function chunkParams(items: readonly UsageItem[], from: number, to: number): (string | number)[] {
  const params = new Array<string | number>((to - from) * 7);
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
  }
  return params;
}

export function applyUsage(db: Database, report: UsageReport, now: number): boolean {
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
    clear.run();
    return true;
  });
}
