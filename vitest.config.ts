import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * End-to-end files that assert a timing or latency bound (a change effective within N ms, a
 * lease freed within its TTL, a stop within seconds, a server deadline, real-clock windows, a
 * stream's first chunk before the upstream finishes): they run one at a time, last, so that
 * their bounds do not compete with other test files for the machine's two cores. A new e2e file
 * that asserts such a bound belongs in this list.
 */
export const TIMED_E2E = [
  'test/e2e/access-models-agree.test.ts',
  'test/e2e/access-propagation.test.ts',
  'test/e2e/admin-identity.test.ts',
  'test/e2e/admin-keys-process.test.ts',
  'test/e2e/cli-lifecycle.test.ts',
  'test/e2e/gateway-invalidation.test.ts',
  'test/e2e/gateway-proxy.test.ts',
  'test/e2e/gateway-server-limits.test.ts',
  'test/e2e/key-lifecycle-hostile.test.ts',
  'test/e2e/limits-http.test.ts',
  'test/e2e/policy-processes.test.ts',
  'test/e2e/redis-failure.test.ts',
  'test/e2e/redis-gateway-kill.test.ts',
  'test/e2e/redis-scale-out.test.ts',
];

/**
 * Three groups, run one after the other:
 * 0. unit + integration files in parallel;
 * 1. the end-to-end files without a timing bound (real processes, Chromium), two at a time: at
 *    load 11 two tsx start-ups at once once missed a 30 s start-up wait, so the start-up waits
 *    (waitForHttp/spawnTs, the CLI files' own) are 60 s and this group's hooks may take 120 s;
 *    these files use free ports, their own temporary dirs and unique Redis prefixes;
 * 2. the timed end-to-end files above, one at a time.
 * The child processes run JavaScript transpiled for the run (test/setup/build-planes.ts), about
 * half the start-up CPU of tsx; the start-up waits still allow for tsx (KEYGATE_TEST_TSX=1).
 * maxWorkers is explicit: vitest's default (cores - 1) is one worker on a 2-core machine, which
 * ran every file serially.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The child processes run JavaScript compiled from the sources for this run (not tsx).
    globalSetup: ['test/setup/build-planes.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit+integration',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          exclude: TIMED_E2E,
          maxWorkers: 2,
          // Start-ups (tsx) share the cores with the other file's: their waits are 60 s.
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e-timed',
          include: TIMED_E2E,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
