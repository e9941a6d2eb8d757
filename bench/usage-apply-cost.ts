/**
 * Admin CPU per usage item of `POST /internal/usage` with distinct random keys (issue 15, the
 * many-keys scenario): an in-process admin plane (real Hono routing, zod, internal token, SQLite
 * file in WAL with the real migrations) applying batches of `batch` distinct random keys out of
 * `keys` seeded ones, as a gateway's flush of random-key traffic carries them. Prints per round
 * CPU µs per item (process.cpuUsage), read/write syscalls and bytes per item (/proc/self/io:
 * counts, independent of the machine's load) and the admin's RSS.
 * Run: node --import tsx bench/usage-apply-cost.ts [keys] [batch] [rounds]
 *   KEYGATE_DB_CACHE_MB=2 PRAGMA='temp_store=DEFAULT' gives the settings before issue 15's change;
 *   PRAGMA='wal_autocheckpoint=1000' SQLite's default checkpoint (before migration 7's stop);
 *   PRAGMA (';'-separated) applies any pragmas after the open (A/B).
 *   DIRECT=1 calls applyUsage without the HTTP route (SQLite work only).
 */
import { readFileSync } from 'node:fs';
import { applyUsage } from '../admin/internal/apply-usage.js';
import { usageReportToWire, type UsageReport } from '../src/usage/usage-report.js';
import { inProcessAdmin } from './in-process-admin.js';
import { removeTempDirs } from './processes.js';
import { seedKeys } from './seed.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const BATCH = Number(process.argv[3] ?? 3_400);
const ROUNDS = Number(process.argv[4] ?? 12);
const DIRECT = process.env.DIRECT === '1';
/** KEYGATE_* variables of the bench's environment apply (KEYGATE_DB_CACHE_MB for the A/B). */
const env: Record<string, string> = {};
for (const [name, value] of Object.entries(process.env)) {
  if (name.startsWith('KEYGATE_') && value !== undefined) env[name] = value;
}
const { dbPath, db, app, tokens, post: admin } = inProcessAdmin('keygate-usage-bench-', env);

/** syscr, syscw, rchar, wchar of this process. */
function io(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/self/io', 'utf8').split('\n')) {
    const [name, value] = line.split(': ');
    if (name && value) out[name] = Number(value);
  }
  return out;
}

/** `count` distinct indexes out of [0, n) (partial Fisher-Yates). */
function distinct(n: number, count: number, pool: Uint32Array): Uint32Array {
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (n - i));
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.subarray(0, count);
}

try {
  await admin('/v1/targets', { name: 'bench-model', upstream: { base_url: 'http://127.0.0.1:1/v1' } });
  const org = await admin<{ id: string }>('/v1/orgs', { name: 'bench' });
  const team = await admin<{ id: string }>('/v1/teams', { org_id: org.id, name: 'bench-team' });
  const owner = await admin<{ id: string }>(`/v1/teams/${team.id}/service-accounts`, { name: 'load' });
  const ids = seedKeys({
    dbPath,
    teamId: team.id,
    serviceAccountId: owner.id,
    count: KEYS,
    namePrefix: 'warm',
    limits: { rpm: 1_000_000_000, tpm: 1_000_000_000_000 },
    lastUsed: true,
  }).map((key) => key.id);
  const authorization = await tokens.authorizationHeader();
  const pool = Uint32Array.from({ length: KEYS }, (_, i) => i);
  process.stdout.write(
    `${KEYS} keys, batches of ${BATCH} distinct random keys, ${DIRECT ? 'applyUsage only' : 'HTTP route'}, pragmas: ${process.env.PRAGMA ?? 'default'}\n`,
  );
  const totals = { us: 0, items: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const now = Date.now();
    const report: UsageReport = {
      gatewayId: 'bench-gateway',
      batchId: `batch-${round}`,
      batchSeq: round + 1,
      items: Array.from(distinct(KEYS, BATCH, pool), (index) => ({
        keyId: ids[index]!,
        target: 'bench-model',
        requests: 1,
        inputTokens: 12,
        outputTokens: 30,
        spendMicros: 42,
        lastUsedAt: now - Math.floor(Math.random() * 1000),
      })),
    };
    const body = JSON.stringify(usageReportToWire(report));
    const before = io();
    const cpu = process.cpuUsage();
    if (DIRECT) applyUsage(db, report, now);
    else {
      const response = await app.request('/internal/usage', {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body,
      });
      if (response.status !== 200) throw new Error(`usage: ${response.status} ${await response.text()}`);
    }
    const used = process.cpuUsage(cpu);
    const after = io();
    const per = (name: string) => ((after[name]! - before[name]!) / BATCH).toFixed(1);
    const us = (used.user + used.system) / BATCH;
    if (round >= 2) {
      totals.us += us;
      totals.items += 1;
    }
    process.stdout.write(
      `round ${round}: ${us.toFixed(1)} µs CPU per item (user ${(used.user / BATCH).toFixed(1)}, system ${(used.system / BATCH).toFixed(1)}), ` +
        `per item: ${per('syscr')} reads ${per('rchar')} B, ${per('syscw')} writes ${per('wchar')} B; rss ${Math.round(process.memoryUsage().rss / 1e6)} MB\n`,
    );
  }
  process.stdout.write(`mean of rounds 2..: ${(totals.us / totals.items).toFixed(1)} µs CPU per item\n`);
} finally {
  db.close();
  removeTempDirs();
}
