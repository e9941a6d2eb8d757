/**
 * How a test starts one of the checkout's TypeScript entries as a child process: the JavaScript
 * that test/setup/build-planes.ts compiled for this test run when there is one
 * (KEYGATE_TEST_BUILD), else under tsx.
 */
import { join } from 'node:path';

/** Node arguments that run `entry` (relative to the checkout root, e.g. 'bin/keygate.ts'). */
export function entryArgs(entry: string): string[] {
  const build = process.env.KEYGATE_TEST_BUILD;
  if (build === undefined || build === '') return ['--import', 'tsx', entry];
  return [join(build, entry.replace(/\.tsx?$/, '.js'))];
}
