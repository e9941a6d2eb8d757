/**
 * Admin CPU per key of `POST /internal/keys` (issue 15, cold misses): an in-process admin plane
 * (real Hono routing, zod, internal-token check, SQLite file) answering batches of `--batch`
 * hashes of keys seeded in one team, as a gateway's coalesced cache misses ask for them. Prints
 * CPU µs per key (process.cpuUsage, steadier than wall time on a shared machine) and answer
 * bytes per key, over rounds.
 * Run: node --import tsx bench/key-batch-bench.ts [keys] [batch]
 */
import { join } from 'node:path';
import pino from 'pino';
import { createAdminApp } from '../admin/app.js';
import { Credentials } from '../admin/auth/credentials.js';
import type { AdminDeps } from '../admin/context.js';
import { systemClock } from '../src/clock.js';
import { loadConfig } from '../src/config/config.js';
import { InternalTokens } from '../src/invalidation/internal-token.js';
import { hashSecret } from '../src/keys/secret.js';
import { openDatabase } from '../src/storage/database.js';
import { makeTempDir, removeTempDirs } from './processes.js';
import { seedKeys } from './seed.js';

const KEYS = Number(process.argv[2] ?? 20_000);
const BATCH = Number(process.argv[3] ?? 50);
const ROUNDS = 5;
const MASTER = 'bench-master-key-0123456789';
const SECRET = 'bench-internal-secret-0123456789-abcdef';

const dir = makeTempDir('keygate-batch-bench-');
const dbPath = join(dir, 'keygate.db');
const config = loadConfig({
  KEYGATE_DB_PATH: dbPath,
  KEYGATE_MASTER_KEY: MASTER,
  KEYGATE_INTERNAL_SECRET: SECRET,
  KEYGATE_LOG_LEVEL: 'silent',
});
const db = openDatabase(dbPath);
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

async function admin<T>(path: string, body: unknown, authorization = `Bearer ${MASTER}`): Promise<T> {
  const response = await app.request(path, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${path}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

try {
  await admin('/v1/targets', { name: 'bench-model', upstream: { base_url: 'http://127.0.0.1:1/v1' } });
  const org = await admin<{ id: string }>('/v1/orgs', { name: 'bench' });
  const team = await admin<{ id: string }>('/v1/teams', { org_id: org.id, name: 'bench-team' });
  const owner = await admin<{ id: string }>(`/v1/teams/${team.id}/service-accounts`, { name: 'load' });
  const keys = seedKeys({
    dbPath,
    teamId: team.id,
    serviceAccountId: owner.id,
    count: KEYS,
    namePrefix: 'cold',
    limits: { rpm: 1_000_000_000, tpm: 1_000_000_000_000 },
  });
  const hashes = keys.map((key) => hashSecret(key.secret));
  const authorization = await tokens.authorizationHeader();
  for (let round = 0; round < ROUNDS; round++) {
    let bytes = 0;
    const cpu = process.cpuUsage();
    for (let i = 0; i < hashes.length; i += BATCH) {
      const response = await app.request('/internal/keys?gateway_id=bench-gateway', {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ hashes: hashes.slice(i, i + BATCH) }),
      });
      bytes += (await response.arrayBuffer()).byteLength;
    }
    const used = process.cpuUsage(cpu);
    const us = (used.user + used.system) / hashes.length;
    process.stdout.write(
      `round ${round}: ${us.toFixed(1)} µs CPU per key (batches of ${BATCH}), ${Math.round(bytes / hashes.length)} answer bytes per key\n`,
    );
  }
} finally {
  db.close();
  removeTempDirs();
}
