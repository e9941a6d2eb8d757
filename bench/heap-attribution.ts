/**
 * Where a gateway's bytes per key go (issue 15): heap snapshots of the bench's gateway, after a
 * forced GC, in four states, and the self size per label (bench/heap-snapshot-summary.ts) of
 * each difference, per key:
 *
 * - base: a fresh gateway that served one request (the seeded keys not loaded);
 * - misses: the same gateway after the bench's prefill (every seeded key used by one request,
 *   each a cache miss loaded from the admin plane), as in the `memory` scenario;
 * - preload: a fresh gateway that preloaded every seeded key (`KEYGATE_PRELOAD_KEYS`), no request;
 * - preload+requests: that gateway after one request with every key.
 *
 * `misses − preload` is what serving a key's first request leaves behind (plus differences of the
 * two load paths); `preload+requests − preload` is the request-created state alone.
 *
 * Run: npm run build && node dist/bench/heap-attribution.js [keys=20000] [rows=30]
 * (snapshots are written to a temporary directory and removed at the end). Rows below 0.5 B per
 * key and V8's own code and script sources (JIT noise between two processes) are left out.
 */
import { rmSync } from 'node:fs';
import { parseArgs } from './args.js';
import { BenchContext } from './context.js';
import { CHAT_BODY, CHAT_PATH } from './planes.js';
import { runLoad } from './load.js';
import {
  Entrypoints,
  ProcessGroup,
  forcedGcMemory,
  makeTempDir,
  removeTempDirs,
  type ForcedGcMemory,
} from './processes.js';
import { findRoot } from './run.js';
import { bearer, expectCompletion } from './scenarios/gateway-load.js';
import { ensureWarmKeysLoaded } from './scenarios/many-keys.js';
import { diffSummaries, summarizeSnapshot, type SnapshotSummary } from './heap-snapshot-summary.js';

const KEYS = Number(process.argv[2] ?? 20_000);
const ROWS = Number(process.argv[3] ?? 30);
/** `-- base misses preload served`: summarize kept snapshots instead of running the bench. */
const FILES = process.argv.slice(4).filter((arg) => arg !== '--');
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** `KEEP_SNAPSHOTS_DIR=<dir>`: write the snapshots there and keep them (for a closer look). */
const keepDir = process.env.KEEP_SNAPSHOTS_DIR;
const snapshotDir = keepDir ?? makeTempDir('keygate-heap-');
const discard = (path: string): void => {
  if (keepDir === undefined) rmSync(path, { force: true });
  else log(`  kept ${path}`);
};
// Inherited by the gateways the bench starts: their GC hook writes a snapshot with each reading.
process.env.KEYGATE_BENCH_HEAP_SNAPSHOT_DIR = snapshotDir;

const root = findRoot();
const options = parseArgs(['--keys', String(KEYS), '--no-write']);
const group = new ProcessGroup(new Entrypoints(root), new Entrypoints(root));
const ctx = new BenchContext(options, group, { keys: KEYS, coldKeys: 0, revocationKeys: 0 }, log);

async function snapshot(
  pid: number,
  what: string,
): Promise<{ memory: ForcedGcMemory; summary: SnapshotSummary }> {
  const memory = await forcedGcMemory(pid, 600_000);
  if (memory?.snapshotPath === null || memory === null) throw new Error(`${what}: no heap snapshot`);
  log(
    `  ${what}: heap used ${memory.heapUsedMb.toFixed(1)} MB, RSS ${memory.rssMb.toFixed(0)} MB; reading the snapshot`,
  );
  const summary = summarizeSnapshot(memory.snapshotPath);
  discard(memory.snapshotPath);
  return { memory, summary };
}

async function useEveryKeyOnce(origin: string, secrets: readonly string[]): Promise<void> {
  let next = 0;
  const result = await runLoad({
    origin,
    path: CHAT_PATH,
    method: 'POST',
    body: CHAT_BODY,
    perRequest: () => bearer(secrets[next++ % secrets.length]!),
    connections: options.connections,
    durationS: 600,
    amount: secrets.length,
    expectedStatus: 200,
    timeoutS: 60,
  });
  // A few timeouts on a loaded machine leave a few keys unserved: noise in a per-key figure.
  if (result.errors > secrets.length / 1000)
    throw new Error(`${result.errors} of ${result.requests} requests failed`);
  if (result.errors > 0) log(`  ${result.errors} of ${result.requests} requests failed (keys left unserved)`);
}

function print(title: string, after: SnapshotSummary, before: SnapshotSummary): void {
  const perKey = (bytes: number): string => (bytes / KEYS).toFixed(1).padStart(8);
  console.log(`\n## ${title}: ${perKey(after.totalBytes - before.totalBytes)} B per key in all`);
  console.log(`${'B/key'.padStart(8)} ${'n/key'.padStart(6)}  label`);
  const rows = diffSummaries(after, before).filter(
    (row) =>
      Math.abs(row.bytes) >= KEYS / 2 &&
      !/\(code\)|script_or_debug_info|\(synthetic\)|object shape/.test(row.label),
  );
  for (const row of rows.slice(0, ROWS)) {
    console.log(`${perKey(row.bytes)} ${(row.count / KEYS).toFixed(2).padStart(6)}  ${row.label}`);
  }
}

function report(
  base: SnapshotSummary,
  misses: SnapshotSummary,
  preload: SnapshotSummary,
  served: SnapshotSummary,
): void {
  console.log(
    `# ${KEYS} keys, self size in the snapshot: base ${base.totalBytes} B, misses ${misses.totalBytes} B, ` +
      `preload ${preload.totalBytes} B, preload+requests ${served.totalBytes} B`,
  );
  print('misses − base', misses, base);
  print('preload − base', preload, base);
  print('misses − preload', misses, preload);
  print('preload+requests − preload (request-created state)', served, preload);
}

async function measure(): Promise<void> {
  const planes = await ctx.planes();
  const prefill = await ensureWarmKeysLoaded(ctx, planes); // a fresh gateway: its GC before = base
  if (prefill.gcBefore?.snapshotPath == null) throw new Error('base: no heap snapshot');
  const base = summarizeSnapshot(prefill.gcBefore.snapshotPath);
  discard(prefill.gcBefore.snapshotPath);
  const misses = await snapshot(planes.gatewayChild.pid, 'misses');

  await planes.restartGateway({ KEYGATE_PRELOAD_KEYS: String(KEYS) });
  for (let ready = false; !ready;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answer = await fetch(`${planes.gatewayUrl}/readyz`);
    const body = (await answer.json()) as { preload?: { done: boolean } };
    ready = body.preload?.done === true;
  }
  await expectCompletion(ctx, 'the hot key', planes.hotKey);
  const preload = await snapshot(planes.gatewayChild.pid, 'preload');
  await useEveryKeyOnce(
    planes.gatewayUrl,
    planes.warmKeys.map((key) => key.secret),
  );
  const served = await snapshot(planes.gatewayChild.pid, 'preload+requests');
  report(base, misses.summary, preload.summary, served.summary);
}

try {
  if (FILES.length === 4) {
    const [base, misses, preload, served] = FILES.map((file) => summarizeSnapshot(file));
    report(base!, misses!, preload!, served!);
  } else await measure();
} finally {
  await ctx.close();
  removeTempDirs();
}
