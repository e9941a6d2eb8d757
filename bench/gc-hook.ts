/**
 * Bench only (issue 15: memory measured the honest way). Loaded into the gateway the bench starts
 * (`node --expose-gc --import <this file>`), never into a production process: on SIGUSR2 it runs
 * two full garbage collections and writes `process.memoryUsage()` to
 * `<tmpdir>/keygate-bench-gc-<pid>.json`, where bench/processes.ts `forcedGcMemory` reads it.
 * RSS read right after a forced GC counts what the gateway holds, not the garbage V8 has not
 * collected yet.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';

process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const file = join(tmpdir(), `keygate-bench-gc-${process.pid}.json`);
  // Per V8 space: committed (space_size) against live (space_used_size), to tell heap slack from
  // memory outside the heap.
  const spaces = Object.fromEntries(
    getHeapSpaceStatistics().map((space) => [
      space.space_name,
      { size: space.space_size, used: space.space_used_size },
    ]),
  );
  writeFileSync(file, JSON.stringify({ ...process.memoryUsage(), spaces, forced: gc !== undefined }));
});
