/**
 * Bench only (issue 15: memory measured the honest way). Loaded into the gateway the bench starts
 * (`node --expose-gc --import <this file>`), never into a production process: on SIGUSR2 it runs
 * full garbage collections and writes `process.memoryUsage()` to
 * `<tmpdir>/keygate-bench-gc-<pid>.json`, where bench/processes.ts `forcedGcMemory` reads it.
 * RSS read after a forced GC counts what the gateway holds, not the garbage V8 has not
 * collected yet.
 *
 * One GC is not enough: V8 gives freed pages back in steps. Right after a full GC the heap is
 * still as large as before it (only its live part shrank), its empty pages are unmapped by a
 * background thread, and each later GC shrinks the heap's committed size a step further. A
 * process whose heap grew to 450 MB with 23 MB live reads 440 MB of RSS right after two GCs, and
 * 114 MB after four more GCs 0.5 s apart (issue 15: the 464 MB "outside the heap" of a gateway
 * filled by a fast all-miss prefill was this). So the hook GCs every `SETTLE_MS` until the heap's
 * committed size stops shrinking (at most `MAX_ROUNDS`), and reports both readings: `immediate`
 * (after the first two GCs) and the settled one.
 *
 * Then a second, memory-reducing phase (issue 15): `HeapProfiler.collectGarbage` over an
 * in-process inspector session, which makes V8 run its low-memory-notification GC (full GCs with
 * V8's "reduce memory footprint" flag: they compact part-used old-space pages and shrink the young
 * generation back to its minimum; the same flag its memory reducer sets when a process goes
 * idle, and what the DevTools "Collect garbage" button does). `gc()` from --expose-gc never sets
 * that flag, so the young generation a load grew (32 MB) and the old-space pages left part-used by
 * promoted request garbage stay committed however many times it runs. The answer's top-level
 * figures are after this phase; `forcedOnly` keeps the reading after the `gc()` phase alone.
 *
 * With `KEYGATE_BENCH_HEAP_SNAPSHOT_DIR` set (bench/heap-attribution.ts), each measurement also
 * writes a heap snapshot there after the settled reading, and names it in the answer (`snapshot`).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const SNAPSHOT_DIR = process.env.KEYGATE_BENCH_HEAP_SNAPSHOT_DIR;
let snapshots = 0;

const SETTLE_MS = 500;
const MAX_ROUNDS = 8;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Per V8 space: committed (size) against live (used), to tell heap slack from memory outside it. */
function spaces(): Record<string, { size: number; used: number }> {
  return Object.fromEntries(
    getHeapSpaceStatistics().map((space) => [
      space.space_name,
      { size: space.space_size, used: space.space_used_size },
    ]),
  );
}

/** One low-memory-notification GC (V8's memory-reducing full GCs), through the inspector. */
function reducingGc(session: Session): Promise<void> {
  return new Promise((resolve, reject) =>
    session.post('HeapProfiler.collectGarbage', (error) => (error === null ? resolve() : reject(error))),
  );
}

/** Memory-reducing GCs until the committed heap stops shrinking; how many ran. */
async function reduce(): Promise<number> {
  const session = new Session();
  session.connect();
  let rounds = 0;
  try {
    let committed = Infinity;
    let steady = 0;
    while (rounds < MAX_ROUNDS && steady < 2) {
      await reducingGc(session);
      rounds++;
      await pause(SETTLE_MS);
      const now = process.memoryUsage().heapTotal;
      steady = now < committed ? 0 : steady + 1;
      committed = Math.min(committed, now);
    }
  } finally {
    session.disconnect();
  }
  return rounds;
}

async function measure(gc: (() => void) | undefined): Promise<void> {
  gc?.();
  gc?.();
  const immediate = process.memoryUsage();
  let rounds = 0;
  if (gc !== undefined) {
    let committed = immediate.heapTotal;
    let steady = 0;
    while (rounds < MAX_ROUNDS && steady < 2) {
      await pause(SETTLE_MS);
      gc();
      rounds++;
      const now = process.memoryUsage().heapTotal;
      steady = now < committed ? 0 : steady + 1;
      committed = Math.min(committed, now);
    }
    await pause(SETTLE_MS); // the last unmapping, off the main thread
  }
  const forcedOnly = process.memoryUsage();
  const forcedOnlySpaces = spaces();
  const reduceRounds = gc === undefined ? 0 : await reduce();
  const usage = process.memoryUsage();
  const snapshot =
    SNAPSHOT_DIR === undefined || SNAPSHOT_DIR === ''
      ? undefined
      : writeHeapSnapshot(join(SNAPSHOT_DIR, `gateway-${process.pid}-${++snapshots}.heapsnapshot`));
  const file = join(tmpdir(), `keygate-bench-gc-${process.pid}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      ...usage,
      spaces: spaces(),
      snapshot,
      immediate,
      settleRounds: rounds,
      forcedOnly,
      forcedOnlySpaces,
      reduceRounds,
      forced: gc !== undefined,
    }),
  );
}

process.on('SIGUSR2', () => {
  void measure((globalThis as { gc?: () => void }).gc);
});
