/** Migration 7 moves a key's usage state (spend, last use, period spend) to key_usage. */
import { describe, expect, it } from 'vitest';
import BetterSqlite3 from 'better-sqlite3';
import { migrate } from '../../../src/storage/database.js';
import { RECENT_KEYS_SQL } from '../../../src/storage/key-policy-repository.js';
import { MIGRATIONS } from '../../../src/storage/migrations.js';

function databaseAtVersion6(): BetterSqlite3.Database {
  const db = new BetterSqlite3(':memory:');
  db.pragma('foreign_keys = ON');
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const m of MIGRATIONS.filter((m) => m.version <= 6)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
  }
  db.exec(`
    INSERT INTO orgs (id, name, created_at, updated_at) VALUES ('org_a', 'a', 0, 0);
    INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES ('team_a', 'org_a', 't', 0, 0);
    INSERT INTO service_accounts (id, team_id, name, created_at) VALUES ('sa_1', 'team_a', 's', 0);
  `);
  const insert = db.prepare(
    `INSERT INTO keys (id, name, team_id, owner_type, owner_service_account_id, token_hash, display, created_at,
       updated_at, spend_micros, last_used_at, period_spend_micros, period_start, budget_period)
     VALUES (?, ?, 'team_a', 'service_account', 'sa_1', ?, 'sk-…', 0, 0, ?, ?, ?, ?, ?)`,
  );
  insert.run('key_used', 'used', 'h1', 1_250, 5_000, 250, 86_400_000, 'day');
  insert.run('key_spent', 'spent', 'h2', 40, null, 0, null, null);
  insert.run('key_new', 'new', 'h3', 0, null, 0, null, null);
  return db;
}

describe('migration 7: key usage apart from key policy', () => {
  it('copies every used key’s spend, last use and period spend; never-used keys get no row', () => {
    const db = databaseAtVersion6();
    migrate(db);
    expect(db.prepare('SELECT * FROM key_usage ORDER BY key_id').all()).toEqual([
      {
        key_id: 'key_spent',
        spend_micros: 40,
        last_used_at: null,
        period_spend_micros: 0,
        period_start: null,
      },
      {
        key_id: 'key_used',
        spend_micros: 1_250,
        last_used_at: 5_000,
        period_spend_micros: 250,
        period_start: 86_400_000,
      },
    ]);
  });

  it('drops the moved columns and the old last-use index from keys; the new index serves warm-start pages', () => {
    const db = databaseAtVersion6();
    migrate(db);
    const columns = (
      db.prepare("SELECT name FROM pragma_table_info('keys')").all() as { name: string }[]
    ).map((c) => c.name);
    for (const moved of ['spend_micros', 'last_used_at', 'period_spend_micros', 'period_start'])
      expect(columns).not.toContain(moved);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'keys_last_used'").get()).toBeUndefined();
    const pages: [string, unknown[]][] = [
      [RECENT_KEYS_SQL.first, [5]],
      [RECENT_KEYS_SQL.after, [5_000, 'key_z', 5]],
    ];
    for (const [sql, params] of pages) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
        .map((row) => row.detail)
        .join('\n');
      expect(plan).toMatch(/(SCAN|SEARCH) ku USING (COVERING )?INDEX key_usage_last_used/);
      expect(plan).not.toMatch(/TEMP B-TREE/);
    }
  });

  it('deleting a key deletes its usage row (foreign key, on delete cascade)', () => {
    const db = databaseAtVersion6();
    migrate(db);
    db.prepare("DELETE FROM keys WHERE id = 'key_used'").run();
    expect(db.prepare("SELECT COUNT(*) AS n FROM key_usage WHERE key_id = 'key_used'").get()).toEqual({
      n: 0,
    });
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });

  it('usage_daily becomes a view over usage_hourly with the same rows the table held', () => {
    const db = databaseAtVersion6();
    const hour = Date.UTC(2026, 4, 17, 10);
    db.exec(`
      INSERT INTO usage_daily VALUES ('key_used', 'team_a', 'org_a', 'm', '2026-05-17', 3, 30, 60, 900);
      INSERT INTO usage_hourly (key_id, team_id, org_id, target, hour, tags, requests, input_tokens, output_tokens, spend_micros)
        VALUES ('key_used', 'team_a', 'org_a', 'm', ${hour}, '[]', 1, 10, 20, 300),
               ('key_used', 'team_a', 'org_a', 'm', ${hour + 3_600_000}, '["x"]', 2, 20, 40, 600);
    `);
    const before = db.prepare('SELECT * FROM usage_daily').all();
    migrate(db);
    expect(db.prepare("SELECT type FROM sqlite_master WHERE name = 'usage_daily'").get()).toEqual({
      type: 'view',
    });
    expect(db.prepare('SELECT * FROM usage_daily').all()).toEqual(before);
  });
});
