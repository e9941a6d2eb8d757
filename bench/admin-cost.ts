/**
 * Admin CPU per usage item and per loaded key (issue 15), load-independent: one process holds a
 * real admin plane (bench/in-process-admin.ts: SQLite file in a temp dir, real migrations, the
 * Hono app's own request handler `app.request`, internal-token check; no TCP socket) over `keys`
 * keys seeded across 2 orgs × 2 teams, and measures CPU time (process.cpuUsage) of:
 *
 * - `POST /internal/usage` with 1, 100 and 5,000 distinct random keys per batch, the body as the
 *   gateway's reporter writes it (`usageReportJson`), per item; split into JSON parse, the hand
 *   check (`isValidUsageReport`; zod's `UsageReportSchema` alone for comparison), `usageReportFromWire`
 *   and `applyUsage` (SQL), each on its own fresh batch of the same shape;
 * - `POST /internal/keys` with 1 and 256 random hashes, per key; split into resolving
 *   (`resolveKeyPolicies`: SQL + policy objects) and `JSON.stringify` of the answer;
 * - `GET /internal/keys` warm-start pages of 1,000, per key; split the same way.
 *
 * Several rounds; medians printed per figure (µs per item or per key), then one summary table.
 * Run: npm run build && node dist/bench/admin-cost.js [keys=100000] [rounds=7]
 */
import { applyUsage } from '../admin/internal/apply-usage.js';
import { recentKeyPolicies, resolveKeyPolicies } from '../admin/internal/key-batch.js';
import { isValidUsageReport, UsageReportSchema } from '../admin/internal/usage-report-schema.js';
import { hashSecret } from '../src/keys/secret.js';
import { usageReportFromWire, usageReportJson, type UsageReport } from '../src/usage/usage-report.js';
import { inProcessAdmin } from './in-process-admin.js';
import { removeTempDirs } from './processes.js';
import { seedKeys } from './seed.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const { dbPath, db, app, tokens, post: admin } = inProcessAdmin('keygate-admin-cost-');

/** CPU µs (user + system) of this process since `since`. */
const cpuSince = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

/** `count` distinct indexes out of [0, n) (partial Fisher-Yates over a shared pool). */
const pool = Uint32Array.from({ length: KEYS }, (_, i) => i);
function distinct(count: number): number[] {
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (KEYS - i));
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return Array.from(pool.subarray(0, count));
}

const samples = new Map<string, number[]>();
function record(name: string, value: number): void {
  const list = samples.get(name);
  if (list === undefined) samples.set(name, [value]);
  else list.push(value);
}
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

try {
  await admin('/v1/targets', { name: 'bench-model', upstream: { base_url: 'http://127.0.0.1:1/v1' } });
  const ids: string[] = [];
  const hashes: string[] = [];
  const perTeam = Math.ceil(KEYS / 4);
  for (let o = 0; o < 2; o++) {
    const org = await admin<{ id: string }>('/v1/orgs', { name: `bench-${o}` });
    for (let t = 0; t < 2; t++) {
      const team = await admin<{ id: string }>('/v1/teams', { org_id: org.id, name: `bench-team-${t}` });
      const owner = await admin<{ id: string }>(`/v1/teams/${team.id}/service-accounts`, { name: 'load' });
      const keys = seedKeys({
        dbPath,
        teamId: team.id,
        serviceAccountId: owner.id,
        count: Math.min(perTeam, KEYS - ids.length),
        namePrefix: `warm-${o}-${t}`,
        limits: { rpm: 1_000_000_000, tpm: 1_000_000_000_000 },
        lastUsed: true,
      });
      for (const key of keys) {
        ids.push(key.id);
        hashes.push(hashSecret(key.secret));
      }
    }
  }
  let authorization = await tokens.authorizationHeader();
  let seq = 0;
  const usageReport = (size: number): UsageReport => {
    const now = Date.now();
    seq += 1;
    return {
      gatewayId: 'bench-gateway',
      batchId: `batch-${seq}`,
      batchSeq: seq,
      items: distinct(size).map((index) => ({
        keyId: ids[index]!,
        target: 'bench-model',
        requests: 1 + (index % 3),
        inputTokens: 12 + (index % 50),
        outputTokens: 30 + (index % 70),
        spendMicros: 42 + (index % 100),
        lastUsedAt: now - Math.floor(Math.random() * 1000),
      })),
    };
  };
  const request = async (path: string, init: RequestInit): Promise<string> => {
    const response = await app.request(path, init);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${text.slice(0, 300)}`);
    return text;
  };
  const postJson = (path: string, body: string) =>
    request(path, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body });

  /** Enough batches of `size` for ≥ `items` items (small batches repeated for a measurable CPU time). */
  const repeat = (size: number, items: number) => Math.max(1, Math.ceil(items / size));

  process.stdout.write(`${KEYS} keys in 4 teams of 2 orgs, ${ROUNDS} rounds, in-process app.request\n`);
  for (let round = 0; round < ROUNDS; round++) {
    authorization = await tokens.authorizationHeader(); // short-lived: a fresh one per round
    for (const size of [1, 100, 5_000]) {
      const n = repeat(size, size === 1 ? 200 : size === 100 ? 2_000 : 5_000);
      // Whole route.
      const bodies = Array.from({ length: n }, () => usageReportJson(usageReport(size)));
      let cpu = process.cpuUsage();
      for (const body of bodies) await postJson('/internal/usage', body);
      record(`usage ${size}: route`, cpuSince(cpu) / (n * size));
      // The same steps one by one, on fresh batches.
      const parts = Array.from({ length: n }, () => usageReportJson(usageReport(size)));
      let parse = 0;
      let check = 0;
      let zod = 0;
      let wire = 0;
      let apply = 0;
      for (const body of parts) {
        cpu = process.cpuUsage();
        const parsed: unknown = JSON.parse(body);
        parse += cpuSince(cpu);
        cpu = process.cpuUsage();
        if (!isValidUsageReport(parsed)) throw new Error('hand check refused a gateway body');
        check += cpuSince(cpu);
        cpu = process.cpuUsage();
        if (!UsageReportSchema.safeParse(parsed).success) throw new Error('zod refused a gateway body');
        zod += cpuSince(cpu);
        cpu = process.cpuUsage();
        const report = usageReportFromWire(parsed);
        wire += cpuSince(cpu);
        cpu = process.cpuUsage();
        if (!applyUsage(db, report, Date.now())) throw new Error('batch not applied');
        apply += cpuSince(cpu);
      }
      const items = n * size;
      record(`usage ${size}: JSON.parse`, parse / items);
      record(`usage ${size}: hand check`, check / items);
      record(`usage ${size}: (zod, not on the path)`, zod / items);
      record(`usage ${size}: fromWire`, wire / items);
      record(`usage ${size}: applyUsage (SQL)`, apply / items);
    }
    for (const size of [1, 256]) {
      const n = repeat(size, size === 1 ? 500 : 2_560);
      const batches = Array.from({ length: n }, () =>
        JSON.stringify({ hashes: distinct(size).map((i) => hashes[i]!) }),
      );
      let cpu = process.cpuUsage();
      for (const body of batches) await postJson('/internal/keys?gateway_id=bench-gateway', body);
      record(`keys ${size}: route`, cpuSince(cpu) / (n * size));
      const fresh = Array.from({ length: n }, () => distinct(size).map((i) => hashes[i]!));
      let resolve = 0;
      let json = 0;
      for (const batch of fresh) {
        cpu = process.cpuUsage();
        const policies = resolveKeyPolicies(db, batch, 'bench-gateway', Date.now());
        resolve += cpuSince(cpu);
        cpu = process.cpuUsage();
        JSON.stringify({ policies });
        json += cpuSince(cpu);
      }
      record(`keys ${size}: resolve (SQL + objects)`, resolve / (n * size));
      record(`keys ${size}: JSON.stringify`, json / (n * size));
    }
    {
      // Warm-start pages of 1,000: the first 20 pages (20,000 keys), as a gateway asks for them.
      const PAGE = 1_000;
      const PAGES = Math.min(20, Math.floor(KEYS / PAGE));
      let after: string | null = null;
      let cpu = process.cpuUsage();
      for (let p = 0; p < PAGES; p++) {
        const cursor: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
        const text = await request(`/internal/keys?gateway_id=bench-gateway&limit=${PAGE}${cursor}`, {
          headers: { authorization },
        });
        after = (JSON.parse(text) as { next: string | null }).next;
      }
      record(`preload ${PAGE}: route`, cpuSince(cpu) / (PAGES * PAGE));
      let resolve = 0;
      let json = 0;
      let cursorOf: { lastUsedAt: number; num: number } | undefined;
      for (let p = 0; p < PAGES; p++) {
        cpu = process.cpuUsage();
        const page = recentKeyPolicies(db, cursorOf, PAGE, 'bench-gateway', Date.now());
        resolve += cpuSince(cpu);
        cpu = process.cpuUsage();
        JSON.stringify(page);
        json += cpuSince(cpu);
        const [time, num] = (page.next ?? '0:0').split(':').map(Number);
        cursorOf = { lastUsedAt: time!, num: num! };
      }
      record(`preload ${PAGE}: resolve (SQL + objects)`, resolve / (PAGES * PAGE));
      record(`preload ${PAGE}: JSON.stringify`, json / (PAGES * PAGE));
    }
    process.stdout.write(
      `round ${round}: usage 1/100/5000 route ${['usage 1: route', 'usage 100: route', 'usage 5000: route']
        .map((name) => samples.get(name)!.at(-1)!.toFixed(1))
        .join(' / ')} µs per item; keys 1/256 route ${['keys 1: route', 'keys 256: route']
        .map((name) => samples.get(name)!.at(-1)!.toFixed(1))
        .join(
          ' / ',
        )} µs per key; preload ${samples.get('preload 1000: route')!.at(-1)!.toFixed(1)} µs per key\n`,
    );
  }
  // Round 0 warms the JIT and SQLite's cache: medians of the rest.
  process.stdout.write(`\nmedian of rounds 1..${ROUNDS - 1}, CPU µs per item / per key:\n`);
  for (const [name, values] of samples) {
    const rest = values.length > 1 ? values.slice(1) : values;
    process.stdout.write(
      `  ${name.padEnd(40)} ${median(rest).toFixed(2).padStart(8)}   (min ${Math.min(...rest).toFixed(2)}, max ${Math.max(...rest).toFixed(2)})\n`,
    );
  }
} finally {
  db.close();
  removeTempDirs();
}
