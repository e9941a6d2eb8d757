import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the issue-13 fault tests (real processes: SIGTERM, kill -9, SIGSTOP,
 * big answers, cut streams), one file at a time so their timings do not compete.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The child processes run JavaScript compiled from the sources for this run (not tsx).
    globalSetup: ['test/setup/build-planes.ts'],
    fileParallelism: false,
  },
});
