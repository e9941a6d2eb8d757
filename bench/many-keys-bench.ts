/**
 * Micro-benchmark of keygate's own per-key cost (issue 15): cache lookup + admission + settle for
 * a uniformly random key of N cached keys against one hot key, in one process, rounds interleaved.
 * The clock advances as at `--rps` requests per second, so minute windows roll over as in the
 * HTTP bench (at 9,000 rps over 100,000 keys most requests meet a key with no counter in the
 * current minute yet). Keys carry rpm + tpm limits like the bench's seeded keys; policies are
 * interned as the admin client does. Heap per key after a forced GC is printed too.
 * Run: node --expose-gc --import tsx bench/many-keys-bench.ts [keys] [iterations per round]
 */
import { createHash } from 'node:crypto';
import { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import { PolicyInterner } from '../src/cache/policy-interner.js';
import { ManualClock } from '../src/clock.js';
import { NO_LIMITS } from '../src/policy/limits.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../src/policy/resolved-policy.js';
import { MemorySpendStore } from '../src/budget/memory-spend-store.js';
import { LimitsAdmission } from '../src/ratelimit/limits-admission.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const ITERATIONS = Number(process.argv[3] ?? 200_000);
const RPS = 9_000;
const ROUNDS = 6;
const gc = (globalThis as { gc?: () => void }).gc;

const target: TargetRoute = {
  name: 'bench-model',
  baseUrl: 'http://127.0.0.1:1',
  upstreamModel: null,
  apiKeyEnv: null,
  inputMicrosPerMtok: 0,
  outputMicrosPerMtok: 0,
};
const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

function wire(i: number): string {
  const keyId = `key_${hex(`k${i}`).slice(0, 26)}`;
  return JSON.stringify({
    keyId,
    tokenHash: hex(`h${i}`),
    status: 'active',
    expiresAt: null,
    key: { id: keyId, limits: { ...NO_LIMITS, rpm: 1e9, tpm: 1e12 }, spendMicros: 0 },
    team: { id: 'team_0123456789abcdef0123456789', limits: NO_LIMITS, spendMicros: 0 },
    org: { id: 'org_0123456789abcdef0123456789', limits: NO_LIMITS, spendMicros: 0 },
    effectiveTargets: [target.name],
    version: 5,
    appliedBatchSeq: 0,
  } satisfies ResolvedKeyPolicy);
}

const heap = (): number => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};

const hashes = Array.from({ length: KEYS }, (_, i) => hex(`h${i}`));
const bodies = new Map(hashes.map((hash, i) => [hash, wire(i)]));
const clock = new ManualClock(Date.UTC(2026, 2, 10, 10, 0, 0));
const interner = new PolicyInterner();
const spend = new MemorySpendStore();
const admission = new LimitsAdmission({ clock, spend });
const cache = new KeyPolicyCache({
  source: {
    load: (hash) =>
      Promise.resolve(interner.intern(JSON.parse(bodies.get(hash)!) as ResolvedKeyPolicy, hash)),
  },
  clock,
  maxKeys: KEYS + 1_000,
  ttlMs: 86_400_000,
  negativeTtlMs: 5_000,
  onLoaded: (policy) => spend.observe(policy),
});

async function request(hash: string): Promise<void> {
  clock.advance(1000 / RPS);
  const policy = cache.lookup(hash);
  if (policy === undefined) throw new Error('not cached');
  const outcome = await admission.admit({ policy, target, estimatedInputTokens: 12, maxOutputTokens: 16 });
  if (!outcome.ok) throw new Error(`refused ${outcome.param}`);
  await admission.settle(outcome.ticket, { inputTokens: 12, outputTokens: 9 });
}

const before = heap();
for (const hash of hashes) {
  const found = await cache.resolve(hash);
  if (!found.ok) throw new Error(found.code);
}
for (const hash of hashes) await request(hash);
const perKey = (heap() - before) / KEYS;

async function round(pick: () => string): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) await request(pick());
  return Number(process.hrtime.bigint() - started) / ITERATIONS;
}
const hot = hashes[0]!;
const hotNs: number[] = [];
const randomNs: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? ['hot', 'random'] : ['random', 'hot'];
  for (const which of order) {
    if (which === 'hot') hotNs.push(await round(() => hot));
    else randomNs.push(await round(() => hashes[Math.floor(Math.random() * KEYS)]!));
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const h = median(hotNs);
const m = median(randomNs);
console.log(
  `${KEYS} keys: hot ${(h / 1000).toFixed(2)} µs, random ${(m / 1000).toFixed(2)} µs per request ` +
    `(+${((m - h) / 1000).toFixed(2)} µs); heap ${gc === undefined ? '? (run with --expose-gc)' : `${Math.round(perKey)} B`} per key`,
);
