/**
 * The SQLite store of the admin plane (better-sqlite3 lives behind this module).
 * WAL + synchronous=FULL: an acknowledged write survives kill -9 of the process.
 *
 * Page cache (issue 15, many keys): a usage flush of random keys touched a random page of
 * `keys`, of its `keys_last_used` index, of usage_daily and of usage_hourly per item (since
 * migration 7: of key_usage, its last-use index and usage_hourly). SQLite's
 * default cache (2 MB) holds none of them across flushes, and a flush's own dirty pages overflow
 * it, so they spill to the WAL mid-transaction and are written again at commit. A cache of
 * KEYGATE_DB_CACHE_MB (64 by default; it only grows as pages are read) and temp tables in memory
 * (the batch's temp table and GROUP BY sorts) took the admin's CPU per usage item of 100,000
 * random keys from ~64-75 to ~48-60 µs (bench/usage-apply-cost.ts, process.cpuUsage) and the
 * bytes it reads per item from ~25 KB to ~8 KB.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Database = BetterSqlite3.Database;

/** SQLite page cache of the admin plane by default (KEYGATE_DB_CACHE_MB). */
export const DEFAULT_DB_CACHE_MB = 64;

/**
 * WAL frames after which a commit checkpoints (SQLite's default is 1,000). A usage flush of 3,400
 * random keys dirties ~2,000 pages, mostly the same key_usage and last-use index pages every
 * flush: at 1,000 every commit copied all of them back into the database file; at 10,000 a
 * checkpoint copies the latest version of each page once per ~4 flushes. Admin CPU per usage item
 * −7 to −13 %, bytes written per item halved (bench/usage-apply-cost.ts); the WAL file grows to
 * ~40 MB before it is reused.
 */
export const WAL_CHECKPOINT_PAGES = 10_000;

export interface DatabaseOptions {
  /** Page cache limit in MiB (SQLite allocates it as pages are read). */
  cacheMb?: number;
}

/**
 * Opens (creating when missing) the database. A data directory keygate creates is 0700 and the
 * database file 0600 (SQLite gives its -wal and -shm files the same mode): the file holds key
 * hashes, users and audit history (issue 10 item 7).
 */
export function openDatabase(path: string, options: DatabaseOptions = {}): Database {
  if (path !== ':memory:' && path !== '') {
    const dir = dirname(path);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = ${-Math.round((options.cacheMb ?? DEFAULT_DB_CACHE_MB) * 1024)}`);
  db.pragma('temp_store = MEMORY');
  db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  migrate(db);
  return db;
}

/** An existing database, read-only, without migrations (`keygate doctor` inspects, never changes). */
export function openDatabaseReadOnly(path: string): Database {
  return new BetterSqlite3(path, { readonly: true, fileMustExist: true });
}

/** The schema version this code migrates to (its last migration). */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The highest migration applied to the database (0 for one keygate never opened). */
export function appliedSchemaVersion(db: Database): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  if (table === undefined) return 0;
  return (db.prepare('SELECT IFNULL(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
}

export function migrate(db: Database): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const applied = new Set(
    db
      .prepare('SELECT version FROM schema_migrations')
      .all()
      .map((row) => (row as { version: number }).version),
  );
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
    if (migration.rebuildsTables === true) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(migration.sql);
        if (migration.rebuildsTables === true && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new Error(`migration ${migration.version} left foreign key violations`);
        }
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          migration.version,
          migration.name,
          Date.now(),
        );
      })();
    } finally {
      if (migration.rebuildsTables === true) db.pragma(`foreign_keys = ${foreignKeys === 1 ? 'ON' : 'OFF'}`);
    }
  }
}

let writeObserver: ((seconds: number) => void) | undefined;

/** Receives the duration of every write transaction of this process (the admin's metrics). */
export function observeWrites(observer: ((seconds: number) => void) | undefined): void {
  writeObserver = observer;
}

/**
 * One transaction function per database that runs the function it is given: better-sqlite3's
 * `db.transaction(fn)` builds a new wrapper (and its variants) per call, ~5 µs each, once per
 * usage flush, key batch and mutation; the cached one costs < 1 µs. Nesting (savepoints) and
 * rollback on throw are better-sqlite3's, the same for either.
 */
const RUNNERS = new WeakMap<Database, ReturnType<Database['transaction']>>();

function runner(db: Database): ReturnType<Database['transaction']> {
  let run = RUNNERS.get(db);
  if (run === undefined) {
    run = db.transaction((fn: () => unknown) => fn());
    RUNNERS.set(db, run);
  }
  return run;
}

/** Run `fn` inside a deferred transaction (`BEGIN`): a read of one snapshot. */
export function deferred<T>(db: Database, fn: () => T): T {
  return runner(db)(fn) as T;
}

/** Run `fn` inside `BEGIN IMMEDIATE` (takes the write lock first: check-then-insert is atomic). */
export function immediate<T>(db: Database, fn: () => T): T {
  if (writeObserver === undefined) return runner(db).immediate(fn) as T;
  const started = performance.now();
  try {
    return runner(db).immediate(fn) as T;
  } finally {
    writeObserver((performance.now() - started) / 1000);
  }
}

export function getMeta(db: Database, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function setMeta(db: Database, key: string, value: string): void {
  db.prepare(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  ).run(key, value);
}
