import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, WAL_CHECKPOINT_PAGES, type Database } from '../../../src/storage/database.js';

describe('openDatabase page cache (issue 15, usage flushes of many keys)', () => {
  let db: Database | undefined;
  afterEach(() => db?.close());

  it('gives SQLite a 64 MiB page cache and temp tables in memory by default', () => {
    db = openDatabase(':memory:');
    expect(db.pragma('cache_size', { simple: true })).toBe(-64 * 1024);
    expect(db.pragma('temp_store', { simple: true })).toBe(2);
  });

  it('takes the cache size from the options (KEYGATE_DB_CACHE_MB)', () => {
    db = openDatabase(':memory:', { cacheMb: 8 });
    expect(db.pragma('cache_size', { simple: true })).toBe(-8 * 1024);
  });

  it('checkpoints the WAL after 10,000 frames, not SQLite’s 1,000: commits of ~1,500 pages each pile up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-wal-'));
    try {
      db = openDatabase(join(dir, 'keygate.db'));
      expect(WAL_CHECKPOINT_PAGES).toBe(10_000);
      db.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
      const insert = db.prepare('INSERT INTO blobs (data) VALUES (zeroblob(4000))');
      const commit = db.transaction(() => {
        for (let i = 0; i < 1_500; i++) insert.run();
      });
      for (let i = 0; i < 3; i++) commit();
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      // At 1,000 frames each commit would checkpoint and the WAL would be reused from its start.
      expect(statSync(join(dir, 'keygate.db-wal')).size).toBeGreaterThan(4_000 * pageSize);
    } finally {
      db?.close();
      db = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
