/** Migration 3 rebuilds access_groups (per-org names) without losing what references it. */
import { describe, expect, it } from 'vitest';
import BetterSqlite3 from 'better-sqlite3';
import { migrate } from '../../../src/storage/database.js';
import { MIGRATIONS } from '../../../src/storage/migrations.js';

describe('migration 3: access group names unique per org', () => {
  it('keeps groups, explicit members and bindings; foreign keys stay on', () => {
    const db = new BetterSqlite3(':memory:');
    db.pragma('foreign_keys = ON');
    db.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of MIGRATIONS.filter((m) => m.version < 3)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    db.exec(`
      INSERT INTO orgs (id, name, created_at, updated_at) VALUES ('org_a', 'a', 0, 0), ('org_b', 'b', 0, 0);
      INSERT INTO targets (id, name, base_url, created_at, updated_at) VALUES ('tgt_1', 'm', 'http://x', 0, 0);
      INSERT INTO access_groups (id, name, org_id, created_at, updated_at) VALUES ('agrp_1', 'g', 'org_a', 0, 0);
      INSERT INTO access_group_targets VALUES ('agrp_1', 'tgt_1');
      INSERT INTO access_bindings (scope_type, scope_id, group_id) VALUES ('org', 'org_a', 'agrp_1');
    `);
    migrate(db);
    expect(db.prepare('SELECT COUNT(*) AS n FROM access_group_targets').get()).toEqual({ n: 1 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM access_bindings').get()).toEqual({ n: 1 });
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.prepare(
      "INSERT INTO access_groups (id, name, org_id, created_at, updated_at) VALUES ('agrp_2', 'g', 'org_b', 0, 0)",
    ).run();
    expect(() =>
      db
        .prepare(
          "INSERT INTO access_groups (id, name, org_id, created_at, updated_at) VALUES ('agrp_3', 'g', 'org_a', 0, 0)",
        )
        .run(),
    ).toThrow(/UNIQUE/);
    // References still point at the rebuilt table: deleting a group cascades to its rows.
    db.prepare("DELETE FROM access_groups WHERE id = 'agrp_1'").run();
    expect(db.prepare('SELECT COUNT(*) AS n FROM access_bindings').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM access_group_targets').get()).toEqual({ n: 0 });
  });
});
