/**
 * Vitest globalSetup: the tests' child processes (admin plane, gateway, mock upstream, the
 * `keygate` CLI) run as JavaScript compiled from this checkout's sources at the start of every
 * test run, not under tsx: a tsx start costs about 1.5 CPU-seconds more per plane (its loader
 * thread and esbuild), and the suites start a few hundred planes.
 *
 * The sources (src, admin, gateway, bin, bench) are transpiled file by file with esbuild, the
 * transform tsx applies on the fly (no bundling, imports unchanged, no type check: the
 * typecheck step does that), into a fresh directory under node_modules/.cache, removed when the
 * run ends. A watch-mode rerun transpiles again first, so children never run stale code.
 * KEYGATE_TEST_BUILD names the directory to the test workers (test/helpers/entry.ts); without it
 * (a script run by hand under tsx) children run under tsx as before. KEYGATE_TEST_TSX=1 keeps
 * tsx for the children.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE_DIRS = ['src', 'admin', 'gateway', 'bin', 'bench'];

function sources(): string[] {
  return SOURCE_DIRS.flatMap((dir) =>
    readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((file) => /\.tsx?$/.test(file) && !file.endsWith('.d.ts'))
      .map((file) => join(ROOT, dir, file))
      .filter((file) => !relative(ROOT, file).startsWith(join('bench', 'results'))),
  );
}

/** Transpiles the sources into `outdir` (replacing what is there); returns the time it took. */
export async function transpile(outdir: string): Promise<number> {
  const started = performance.now();
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: sources(),
    outbase: ROOT,
    outdir,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    tsconfig: join(ROOT, 'tsconfig.json'),
    logLevel: 'warning',
  });
  // The directory is its own package scope (ESM) and root: the console finds its static files
  // in admin/console/assets of the nearest folder up with a package.json.
  writeFileSync(join(outdir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  cpSync(join(ROOT, 'admin', 'console', 'assets'), join(outdir, 'admin', 'console', 'assets'), {
    recursive: true,
  });
  return performance.now() - started;
}

interface RerunHost {
  onTestsRerun?(callback: () => Promise<void> | void): void;
}

export default async function setup(project?: RerunHost): Promise<() => void> {
  // Every project of vitest.config.ts runs this setup; the first one builds for all of them.
  if (process.env.KEYGATE_TEST_TSX === '1' || process.env.KEYGATE_TEST_BUILD) return () => {};
  const parent = join(ROOT, 'node_modules', '.cache');
  mkdirSync(parent, { recursive: true });
  const outdir = mkdtempSync(join(parent, 'keygate-test-build-'));
  await transpile(outdir);
  process.env.KEYGATE_TEST_BUILD = outdir;
  project?.onTestsRerun?.(async () => {
    await transpile(outdir);
  });
  return () => {
    delete process.env.KEYGATE_TEST_BUILD;
    rmSync(outdir, { recursive: true, force: true });
  };
}
