/**
 * Instructions and cache misses per request of keygate's own per-key work (issue 15), in one
 * process under valgrind callgrind, for one hot key and for uniformly random keys of N cached
 * keys: cache lookup + admission + settle + the usage reporter's record, with its spool journal
 * written every 100 ms and a flush (seal, the admin client's wire JSON) every second of the
 * simulated clock (`--rps` requests per second), so each request carries its share of the per-flush
 * work for the distinct keys it added. No HTTP and no other process: a run takes a minute or two
 * whatever the machine's load, where the gateway under callgrind (callgrind-many-keys.ts) takes
 * tens of minutes on a loaded machine.
 *
 * Each phase zeroes the counters (`callgrind_control -z` on this process), runs `requests`
 * requests, and dumps (`-d`); the dump's totals ÷ requests are the figures. Phases alternate hot,
 * random, hot, random after a warm-up of both; the random keys come from a fixed-seed generator.
 * Outside valgrind it prints CPU time per request instead (load-dependent).
 *
 * Run: npm run build && valgrind --tool=callgrind --cache-sim=yes --LL=33554432,16,64 \
 *   --instr-atstart=no --callgrind-out-file=<dir>/cg.%p \
 *   node dist/bench/many-keys-callgrind.js <dir> [keys=100000] [requests=20000]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import { PolicyInterner } from '../src/cache/policy-interner.js';
import { ManualClock } from '../src/clock.js';
import { NO_LIMITS } from '../src/policy/limits.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../src/policy/resolved-policy.js';
import { MemorySpendStore } from '../src/budget/memory-spend-store.js';
import { LimitsAdmission } from '../src/ratelimit/limits-admission.js';
import * as usageReport from '../src/usage/usage-report.js';
import { UsageReporter } from '../gateway/usage/usage-reporter.js';
import { UsageSpool } from '../gateway/usage/usage-spool.js';

const OUT = process.argv[2] ?? '';
const KEYS = Number(process.argv[3] ?? 100_000);
const REQUESTS = Number(process.argv[4] ?? 20_000);
const RPS = 9_000;
const underValgrind = OUT !== '' && readdirSync(OUT).some((file) => file.startsWith(`cg.${process.pid}`));

const target: TargetRoute = {
  name: 'bench-model',
  baseUrl: 'http://127.0.0.1:1',
  upstreamModel: null,
  apiKeyEnv: null,
  inputMicrosPerMtok: 1_000_000,
  outputMicrosPerMtok: 2_000_000,
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
const spoolDir = mkdtempSync(join(tmpdir(), 'keygate-mkcg-'));
const { spool } = UsageSpool.open({ dir: spoolDir, writeEveryMs: 3_600_000 });
let wireBytes = 0;
/** The admin client's serialization (usageReportJson; builds before it had JSON.stringify of the wire form). */
const serialize: (report: usageReport.UsageReport) => string =
  (usageReport as { usageReportJson?: (report: usageReport.UsageReport) => string }).usageReportJson ??
  ((report) => JSON.stringify(usageReport.usageReportToWire(report)));
const reporter = new UsageReporter({
  gatewayId: 'gw_bench',
  journal: spool,
  onSeal: (seq) => spend.seal(seq),
  // What the admin client does with a batch before sending it.
  sink: {
    postUsage: (report) => {
      wireBytes += serialize(report).length;
      return Promise.resolve({ applied: true });
    },
  },
});

let sent = 0;
async function request(hash: string): Promise<void> {
  clock.advance(1000 / RPS);
  const policy = cache.lookup(hash);
  if (policy === undefined) throw new Error('not cached');
  const outcome = await admission.admit({ policy, target, estimatedInputTokens: 12, maxOutputTokens: 16 });
  if (!outcome.ok) throw new Error(`refused ${outcome.param}`);
  const { costMicros } = await admission.settle(outcome.ticket, { inputTokens: 12, outputTokens: 9 });
  // Whole milliseconds, as the gateway's clock (Date.now) reads.
  reporter.record(policy.keyId, target.name, 12, 9, costMicros, Math.floor(clock.now()));
  sent++;
  // The spool's 100 ms write and the reporter's 1 s flush, on the simulated clock.
  if (sent % (RPS / 10) === 0) spool.writeNow();
  if (sent % RPS === 0) await reporter.flush();
}

for (const hash of hashes) {
  const found = await cache.resolve(hash);
  if (!found.ok) throw new Error(found.code);
}

let state = 0x2545f491;
const pick = (): string => {
  state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
  return hashes[state % KEYS]!;
};
const hot = hashes[0]!;
/** A phase ends with the spool write and the flush of what it recorded, so each carries its own. */
const run = async (kind: 'hot' | 'random', amount: number): Promise<void> => {
  for (let i = 0; i < amount; i++) await request(kind === 'hot' ? hot : pick());
  spool.writeNow();
  await reporter.flush();
};

const control = (flag: string): void => {
  execFileSync('callgrind_control', [flag, String(process.pid)], { stdio: 'ignore' });
};
/** Totals of the newest dump of this process. */
function lastDump(before: ReadonlySet<string>): Record<string, number> {
  const file = readdirSync(OUT).find((name) => name.startsWith(`cg.${process.pid}`) && !before.has(name));
  if (file === undefined) throw new Error('no new dump');
  const text = readFileSync(join(OUT, file), 'utf8');
  const events = /^events: (.+)$/m.exec(text)![1]!.split(' ');
  const totals = /^(?:totals|summary): (.+)$/m.exec(text)![1]!.split(' ').map(Number);
  return Object.fromEntries(events.map((event, i) => [event, totals[i] ?? 0]));
}

if (underValgrind) control('--instr=on');
await run('hot', REQUESTS);
await run('random', REQUESTS);
const rows: string[] = [];
for (const kind of ['hot', 'random', 'hot', 'random'] as const) {
  let row: string;
  if (underValgrind) {
    control('-z');
    await run(kind, REQUESTS);
    const before = new Set(readdirSync(OUT));
    control('-d');
    const totals = lastDump(before);
    const per = (event: string): string =>
      Math.round((totals[event] ?? 0) / REQUESTS).toLocaleString('en-US');
    row =
      `${kind.padEnd(6)} Ir ${per('Ir')}  D1 misses ${per('D1mr')} r + ${per('D1mw')} w  ` +
      `LL misses ${per('DLmr')} r + ${per('DLmw')} w  (per request)`;
  } else {
    const started = process.cpuUsage();
    await run(kind, REQUESTS);
    const used = process.cpuUsage(started);
    row = `${kind.padEnd(6)} CPU ${((used.user + used.system) / REQUESTS).toFixed(2)} µs per request`;
  }
  process.stderr.write(`${row}\n`);
  rows.push(row);
}
console.log(
  `# ${KEYS} keys, ${REQUESTS} requests per phase (${(wireBytes / 1e6).toFixed(1)} MB of usage JSON)\n${rows.join('\n')}`,
);
spool.close();
rmSync(spoolDir, { recursive: true, force: true });
