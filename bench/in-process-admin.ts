/**
 * An admin plane inside the bench process (real Hono routing, zod, internal-token check, SQLite
 * file in WAL with the real migrations) for the admin-side CPU benches (usage-apply-cost,
 * preload-bench, key-batch-bench): CPU time of one process, which the machine's load barely changes.
 */
import { join } from 'node:path';
import pino from 'pino';
import { createAdminApp } from '../admin/app.js';
import { Credentials } from '../admin/auth/credentials.js';
import type { AdminDeps } from '../admin/context.js';
import { systemClock } from '../src/clock.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { InternalTokens } from '../src/invalidation/internal-token.js';
import { openDatabase, type Database } from '../src/storage/database.js';
import { makeTempDir } from './processes.js';

export const BENCH_MASTER = 'bench-master-key-0123456789';
const SECRET = 'bench-internal-secret-0123456789-abcdef';

export interface InProcessAdmin {
  dir: string;
  dbPath: string;
  config: Readonly<Config>;
  db: Database;
  app: ReturnType<typeof createAdminApp>;
  tokens: InternalTokens;
  /** POSTs `body` as JSON (the master key unless `authorization` is given); the parsed answer, or throws. */
  post<T>(path: string, body: unknown, authorization?: string): Promise<T>;
}

/**
 * Opens a fresh database in a temp dir named `prefix` and builds the admin app over it; `env`
 * adds to the bench's own settings. `PRAGMA` (';'-separated) is applied after the open (A/B).
 */
export function inProcessAdmin(prefix: string, env: Record<string, string> = {}): InProcessAdmin {
  const dir = makeTempDir(prefix);
  const dbPath = join(dir, 'keygate.db');
  const config = loadConfig({
    KEYGATE_DB_PATH: dbPath,
    KEYGATE_MASTER_KEY: BENCH_MASTER,
    KEYGATE_INTERNAL_SECRET: SECRET,
    KEYGATE_LOG_LEVEL: 'silent',
    ...env,
  });
  const db = openDatabase(dbPath, { cacheMb: config.dbCacheMb });
  if (process.env.PRAGMA) for (const p of process.env.PRAGMA.split(';')) db.pragma(p);
  const tokens = new InternalTokens(SECRET);
  const deps: AdminDeps = {
    db,
    config,
    clock: systemClock,
    credentials: new Credentials(db, config),
    internalTokens: tokens,
    invalidation: { publish: () => undefined, close: () => Promise.resolve() },
    logger: pino({ level: 'silent' }),
  };
  const app = createAdminApp(deps);
  async function post<T>(path: string, body: unknown, authorization = `Bearer ${BENCH_MASTER}`): Promise<T> {
    const response = await app.request(path, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${path}: ${response.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
  return { dir, dbPath, config, db, app, tokens, post };
}
