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
 * With `KEYGATE_BENCH_HEAP_SNAPSHOT_DIR` set (bench/heap-attribution.ts), each measurement also
 * writes a heap snapshot there after the settled reading, and names it in the answer (`snapshot`).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      forced: gc !== undefined,
    }),
  );
}

process.on('SIGUSR2', () => {
  void measure((globalThis as { gc?: () => void }).gc);
});
