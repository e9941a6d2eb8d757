/**
 * `--compare <git-ref>`: check the ref out into a temporary git worktree, install and build it,
 * and hand its root to the runner, which drives that checkout's admin plane and gateway with this
 * checkout's scenarios, mock upstream and baselines (so both sides see the same load). The
 * worktree is removed at the end, whatever happens.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './processes.js';

export interface Worktree {
  dir: string;
  ref: string;
  sha: string;
  /** Why the ref cannot be benchmarked, when it cannot. */
  unusable?: string;
  notes: string[];
  remove(): void;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 600_000): string {
  return execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
}

export function prepareWorktree(root: string, ref: string, log: (line: string) => void): Worktree {
  const sha = run('git', ['rev-parse', '--verify', `${ref}^{commit}`], root).trim();
  const dir = join(makeTempDir('keygate-bench-compare-'), 'checkout');
  run('git', ['worktree', 'add', '--detach', dir, sha], root);
  const worktree: Worktree = {
    dir,
    ref,
    sha,
    notes: [],
    remove: () => {
      try {
        run('git', ['worktree', 'remove', '--force', dir], root);
      } catch {
        rmSync(dir, { recursive: true, force: true });
        run('git', ['worktree', 'prune'], root);
      }
    },
  };
  const missing = ['admin/main.ts', 'gateway/main.ts'].filter((file) => !existsSync(join(dir, file)));
  if (missing.length > 0) {
    worktree.unusable = `${ref} (${sha.slice(0, 10)}) has no ${missing.join(' / ')}: nothing to benchmark there`;
    return worktree;
  }
  if (!existsSync(join(dir, 'bench', 'run.ts'))) {
    worktree.notes.push(
      `${ref} has no bench of its own (bench/run.ts); its planes are driven by this checkout's scenarios`,
    );
  }
  const sameLock =
    existsSync(join(dir, 'package-lock.json')) &&
    readFileSync(join(dir, 'package-lock.json'), 'utf8') ===
      readFileSync(join(root, 'package-lock.json'), 'utf8');
  if (sameLock && existsSync(join(root, 'node_modules'))) {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    worktree.notes.push(`${ref}: same package-lock.json, node_modules shared`);
  } else {
    log(`  compare: npm ci in ${dir}`);
    run('npm', ['ci', '--no-audit', '--no-fund'], dir);
  }
  log(`  compare: building ${ref} (${sha.slice(0, 10)})`);
  try {
    run('npm', ['run', 'build', '--silent'], dir);
  } catch (error) {
    // tsc still emits JavaScript on type errors: go on if the entry points exist, and say so.
    const built = ['admin/main.js', 'gateway/main.js'].every((file) => existsSync(join(dir, 'dist', file)));
    if (!built) throw error;
    worktree.notes.push(
      `${ref}: the build reported errors (${String(error).split('\n')[0]}); its emitted JavaScript was used`,
    );
  }
  return worktree;
}
