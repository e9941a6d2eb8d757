/**
 * Admin CPU per key of `POST /internal/keys` (issue 15, cold misses): an in-process admin plane
 * (real Hono routing, zod, internal-token check, SQLite file) answering batches of `--batch`
 * hashes of keys seeded in one team, as a gateway's coalesced cache misses ask for them. Prints
 * CPU µs per key (process.cpuUsage, steadier than wall time on a shared machine) and answer
 * bytes per key, over rounds.
 * Run: node --import tsx bench/key-batch-bench.ts [keys] [batch]
 */
import { hashSecret } from '../src/keys/secret.js';
import { inProcessAdmin } from './in-process-admin.js';
import { removeTempDirs } from './processes.js';
import { seedKeys } from './seed.js';

const KEYS = Number(process.argv[2] ?? 20_000);
const BATCH = Number(process.argv[3] ?? 50);
const ROUNDS = 5;
const { dbPath, db, app, tokens, post: admin } = inProcessAdmin('keygate-batch-bench-');

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
