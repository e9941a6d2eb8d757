/**
 * CPU per key of the warm start (issue 15, `KEYGATE_PRELOAD_KEYS`), both sides in one process so
 * the figures are CPU time (process.cpuUsage), which the machine's load barely changes:
 * - admin: `GET /internal/keys?after=&limit=` pages through an in-process admin plane (real Hono
 *   routing, internal-token check, SQLite file, JSON answer) over `keys` seeded keys with a last use;
 * - gateway: what the gateway does with each page's text: JSON.parse, PolicyInterner, the key
 *   cache's bulk load and the spend store's observe (as gateway/main.ts wires them).
 * Over rounds; the preload of a real gateway takes at least the sum (pages are asked one after
 * the other) plus the HTTP transfer.
 * Run: node --import tsx bench/preload-bench.ts [keys=100000] [page=1000]
 */
import { PeriodSpendStore } from '../src/budget/period-spend-store.js';
import { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import { PolicyInterner } from '../src/cache/policy-interner.js';
import { systemClock } from '../src/clock.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import { inProcessAdmin } from './in-process-admin.js';
import { removeTempDirs } from './processes.js';
import { seedKeys } from './seed.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const PAGE = Number(process.argv[3] ?? 1_000);
const ROUNDS = 3;
const { dbPath, db, app, tokens, post: admin } = inProcessAdmin('keygate-preload-bench-');

const cpuMicros = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

try {
  await admin('/v1/targets', { name: 'bench-model', upstream: { base_url: 'http://127.0.0.1:1/v1' } });
  const org = await admin<{ id: string }>('/v1/orgs', { name: 'bench' });
  const team = await admin<{ id: string }>('/v1/teams', { org_id: org.id, name: 'bench-team' });
  const owner = await admin<{ id: string }>(`/v1/teams/${team.id}/service-accounts`, { name: 'load' });
  seedKeys({
    dbPath,
    teamId: team.id,
    serviceAccountId: owner.id,
    count: KEYS,
    namePrefix: 'warm',
    limits: { rpm: 1_000_000_000, tpm: 1_000_000_000_000 },
    lastUsed: true,
  });
  for (let round = 0; round < ROUNDS; round++) {
    // Admin: every page, as the gateway asks for them.
    const texts: string[] = [];
    let after: string | null = null;
    let cpu = process.cpuUsage();
    do {
      const cursor: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
      const response = await app.request(`/internal/keys?gateway_id=bench-gateway&limit=${PAGE}${cursor}`, {
        headers: { authorization: await tokens.authorizationHeader() }, // short-lived: asked each time
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`GET /internal/keys: ${response.status} ${text}`);
      texts.push(text);
      after = (JSON.parse(text) as { next: string | null }).next; // not counted below: the gateway's parse
    } while (after !== null);
    const adminUs = cpuMicros(cpu);
    let bytes = 0;
    for (const text of texts) bytes += Buffer.byteLength(text);

    // Gateway: parse, intern, cache and observe each page.
    const interner = new PolicyInterner();
    const spend = new PeriodSpendStore(systemClock);
    const cache = new KeyPolicyCache({
      source: { load: () => Promise.resolve(null) },
      clock: systemClock,
      maxKeys: KEYS + 1_000,
      ttlMs: 1_800_000,
      negativeTtlMs: 5_000,
      onLoaded: (policy) => spend.observe(policy),
    });
    let parseUs = 0;
    let internUs = 0;
    let cacheUs = 0;
    let cached = 0;
    for (const text of texts) {
      cpu = process.cpuUsage();
      const page = JSON.parse(text) as { policies: ResolvedKeyPolicy[] };
      parseUs += cpuMicros(cpu);
      cpu = process.cpuUsage();
      for (const policy of page.policies) interner.intern(policy);
      internUs += cpuMicros(cpu);
      cpu = process.cpuUsage();
      cached += cache.endBulkLoad(cache.beginBulkLoad(), page.policies);
      cacheUs += cpuMicros(cpu);
    }
    if (cached !== KEYS) throw new Error(`cached ${cached} of ${KEYS}`);
    const per = (us: number): string => (us / KEYS).toFixed(1);
    process.stdout.write(
      `round ${round}: admin ${per(adminUs)} µs/key (${Math.round(bytes / KEYS)} B/key), gateway parse ${per(parseUs)} + ` +
        `intern ${per(internUs)} + cache ${per(cacheUs)} µs/key; ${KEYS} keys in pages of ${PAGE}: ` +
        `admin ${(adminUs / 1e6).toFixed(2)} s + gateway ${((parseUs + internUs + cacheUs) / 1e6).toFixed(2)} s CPU\n`,
    );
  }
} finally {
  db.close();
  removeTempDirs();
}
