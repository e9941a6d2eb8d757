import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/storage/database.js';

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
});
