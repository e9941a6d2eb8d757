/**
 * bench/gc-hook.ts (issue 15): after its gc() phase, a memory-reducing GC gives back the young
 * generation a burst of allocation grew, which gc() alone never does; both readings are reported.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { forcedGcMemory } from '../../../bench/processes.js';
import { preloadArgs } from '../../helpers/entry.js';
import { ROOT } from '../../helpers/processes.js';

const onLinux = process.platform === 'linux';

// Grows the young generation with short-lived objects (some surviving a scavenge, as request
// garbage does), keeps a little live, then idles until killed.
const CHILD = `
const keep = [];
let recent = [];
for (let i = 0; i < 2e6; i++) {
  recent.push({ i, s: 'x' + i });
  if (recent.length > 200000) recent = [];
  if (i % 100 === 0) keep.push(recent[recent.length - 1]);
}
recent = null;
globalThis.keep = keep;
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`;

describe('bench gc hook', () => {
  it.runIf(onLinux)(
    'reports the memory-reducing reading, young generation given back, beside the gc() one',
    async () => {
      const child = spawn(
        process.execPath,
        ['--expose-gc', ...preloadArgs('bench/gc-hook.ts', ROOT), '-e', CHILD],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      try {
        const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
        expect(chunk.toString()).toContain('ready');
        const memory = await forcedGcMemory(child.pid!);
        expect(memory).not.toBeNull();
        expect(memory!.forced).toBe(true);
        expect(memory!.forcedOnly).not.toBeNull();
        // The grown young generation (several MB committed) stays after gc() and is returned by
        // the memory-reducing GC (the young generation shrinks to ~1 MB).
        expect(memory!.heapTotalMb).toBeLessThan(memory!.forcedOnly!.heapTotalMb - 4);
        expect(memory!.heapUsedMb).toBeLessThanOrEqual(memory!.heapTotalMb);
      } finally {
        child.kill('SIGKILL');
      }
    },
    60_000,
  );
});
