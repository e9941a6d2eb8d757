/**
 * How a test starts one of the checkout's TypeScript modules in a child process: the JavaScript
 * that test/setup/build-planes.ts compiled for this test run when there is one
 * (KEYGATE_TEST_BUILD), else under tsx.
 */
import { join } from 'node:path';

function compiled(file: string): string | undefined {
  const build = process.env.KEYGATE_TEST_BUILD;
  if (build === undefined || build === '') return undefined;
  return join(build, file.replace(/\.tsx?$/, '.js'));
}

/** Node arguments that run `entry` (relative to the checkout root, e.g. 'bin/keygate.ts'). */
export function entryArgs(entry: string): string[] {
  const js = compiled(entry);
  return js === undefined ? ['--import', 'tsx', entry] : [js];
}

/** Node arguments that preload `module` (relative to the checkout root, e.g. 'bench/gc-hook.ts'). */
export function preloadArgs(module: string, root: string): string[] {
  const js = compiled(module);
  return js === undefined ? ['--import', 'tsx', '--import', join(root, module)] : ['--import', js];
}
