/**
 * The one prepared-statement cache of the storage layer: `prepared(db, sql)` prepares each SQL
 * text once per database (preparing costs more than running the small queries the admin plane
 * issues). Bounded, so SQL built with a variable number of placeholders cannot grow it forever.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './database.js';

export type Statement = BetterSqlite3.Statement<unknown[]>;

const MAX_PER_DATABASE = 500;
const caches = new WeakMap<Database, Map<string, Statement>>();

export function prepared(db: Database, sql: string): Statement {
  let cache = caches.get(db);
  if (cache === undefined) {
    cache = new Map();
    caches.set(db, cache);
  }
  let statement = cache.get(sql);
  if (statement === undefined) {
    statement = db.prepare<unknown[]>(sql);
    if (cache.size < MAX_PER_DATABASE) cache.set(sql, statement);
  }
  return statement;
}
