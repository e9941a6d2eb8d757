/**
 * `npm run bench`: builds (via the npm script), starts every process it needs on 127.0.0.1 from
 * compiled JS, runs the selected scenarios (each checked, warmed up, then measured), prints the
 * table and the target checks, writes bench/results/, and stops everything, even on failure or
 * Ctrl-C. bench/README.md explains the scenarios and how to read the ratios.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, USAGE, type BenchOptions } from './args.js';
import { prepareWorktree } from './compare.js';
import { BenchContext, SkipScenario } from './context.js';
import { skippedRow, type BenchRun, type Measurement } from './measurement.js';
import { Entrypoints, ProcessGroup, removeTempDirs, type Runtime } from './processes.js';
import { machineInfo, renderText, writeResults } from './report.js';
import { SCENARIOS, selectScenarios } from './scenarios/index.js';
import { evaluateTargets } from './targets.js';

export interface RunSetup {
  /** The checkout whose mock upstream and baselines run (this one). */
  toolsRoot: string;
  /** The checkout whose admin plane and gateway are measured (this one, or a --compare worktree). */
  systemRoot: string;
  runtime: Runtime;
  log: (line: string) => void;
  /** `--node`: the binary the gateway and the Node baselines run under. */
  node?: string | undefined;
}

export interface ScenarioRun {
  measurements: Measurement[];
  notes: string[];
  failed: string[];
  /** Processes the run started (all stopped when it returns). */
  pids: number[];
}

/** The checkout root: the nearest directory above this file with a package.json. */
export function findRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

/** Seed counts from the scenarios that will run (a subset seeds only what it needs). */
export function planFor(
  names: readonly string[],
  options: BenchOptions,
): { keys: number; coldKeys: number; revocationKeys: number } {
  return {
    keys:
      names.includes('many-keys') || names.includes('memory') || names.includes('preload') ? options.keys : 0,
    coldKeys: names.includes('cold-misses') ? options.coldKeys : 0,
    revocationKeys: names.includes('revocation') ? 2 * options.trials : 0,
  };
}

let activeGroup: ProcessGroup | undefined;

export async function runScenarios(options: BenchOptions, setup: RunSetup): Promise<ScenarioRun> {
  const scenarios = selectScenarios(options.scenarios);
  const names = scenarios.map((scenario) => scenario.name);
  const group = new ProcessGroup(
    new Entrypoints(setup.toolsRoot, setup.runtime),
    new Entrypoints(setup.systemRoot, setup.runtime),
    setup.node,
  );
  activeGroup = group;
  const plan = {
    ...planFor(names, options),
    ...(options.profile
      ? {
          profileDir: join(
            setup.toolsRoot,
            'bench',
            'results',
            'profiles',
            new Date().toISOString().replace(/[:.]/g, '-'),
          ),
        }
      : {}),
  };
  const ctx = new BenchContext(options, group, plan, setup.log);
  const measurements: Measurement[] = [];
  const failed: string[] = [];
  try {
    for (const scenario of scenarios) {
      const started = Date.now();
      setup.log(`▶ ${scenario.name}: ${scenario.description}`);
      try {
        const rows = await scenario.run(ctx);
        measurements.push(...rows);
        setup.log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } catch (error) {
        const skipped = error instanceof SkipScenario;
        const message = error instanceof Error ? error.message : String(error);
        if (!skipped) failed.push(`${scenario.name}: ${message}`);
        setup.log(`  ${skipped ? 'skipped' : 'FAILED'}: ${message}`);
        for (const row of scenario.rows) {
          measurements.push(
            skippedRow(
              { ...row, scenario: scenario.name },
              skipped ? message : `failed: ${message.split('\n')[0]}`,
            ),
          );
        }
      }
    }
  } finally {
    await ctx.close();
    activeGroup = undefined;
  }
  return {
    measurements,
    notes: [...ctx.notes, ...failed.map((failure) => `scenario failed: ${failure}`)],
    failed,
    pids: [...group.startedPids],
  };
}

/** `v24.22.3` for a node binary (throws a clear error when it is not one). */
export function nodeVersion(binary: string): string {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch (error) {
    throw new Error(`--node ${binary}: not a runnable node binary (${String(error).split('\n')[0]})`);
  }
}

function toolSetup(root: string): Omit<RunSetup, 'systemRoot'> {
  const runtime: Runtime = import.meta.url.endsWith('.ts') ? 'tsx' : 'dist';
  return { toolsRoot: root, runtime, log: (line) => process.stderr.write(`${line}\n`) };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseArgs(argv);
    if (options.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    selectScenarios(options.scenarios);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.list) {
    for (const scenario of SCENARIOS)
      process.stdout.write(`${scenario.name.padEnd(14)} ${scenario.description}\n`);
    return 0;
  }
  const root = findRoot();
  const tools = toolSetup(root);
  try {
    for (const binary of [options.node ?? process.env.KEYGATE_BENCH_NODE, options.compareNode])
      if (binary !== undefined) nodeVersion(binary);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const startedAt = new Date().toISOString();
  // Bound the whole run: a wedged process must not keep a CI job (or a laptop) busy for ever.
  const budgetS = options.quick
    ? 300
    : 1200 +
      20 * options.durationS * (options.compare !== undefined || options.compareNode !== undefined ? 2 : 1);
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${budgetS} s; stopping everything\n`);
    activeGroup?.killAllNow();
    removeTempDirs();
    process.exit(3);
  }, budgetS * 1000);
  watchdog.unref();

  const node = options.node ?? process.env.KEYGATE_BENCH_NODE;
  const here = await runScenarios(options, { ...tools, systemRoot: root, node });
  if (node !== undefined)
    here.notes.unshift(`gateway and Node baselines ran under ${nodeVersion(node)} (${node})`);
  const run: BenchRun = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(root),
    options: { ...options },
    measurements: here.measurements,
    targets: evaluateTargets(here.measurements),
    notes: here.notes,
  };

  let failures = here.failed.length;
  if (options.compare !== undefined) {
    tools.log(`▶ compare: preparing ${options.compare}`);
    let worktree: ReturnType<typeof prepareWorktree> | undefined;
    try {
      worktree = prepareWorktree(root, options.compare, tools.log);
      if (worktree.unusable !== undefined) {
        run.compare = {
          ref: options.compare,
          gitSha: worktree.sha,
          measurements: [],
          notes: [worktree.unusable],
        };
      } else {
        const there = await runScenarios(options, { ...tools, systemRoot: worktree.dir });
        run.compare = {
          ref: options.compare,
          gitSha: worktree.sha,
          measurements: there.measurements,
          notes: [...worktree.notes, ...there.notes],
        };
      }
    } catch (error) {
      failures++;
      run.notes.push(
        `compare with ${options.compare} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      worktree?.remove();
    }
    run.finishedAt = new Date().toISOString();
  }

  if (options.compareNode !== undefined) {
    const version = nodeVersion(options.compareNode);
    tools.log(`▶ compare: the same scenarios under ${version} (${options.compareNode})`);
    const there = await runScenarios(options, { ...tools, systemRoot: root, node: options.compareNode });
    failures += there.failed.length;
    run.compare = {
      ref: `node ${version}`,
      gitSha: run.machine.gitSha,
      measurements: there.measurements,
      notes: [`gateway and Node baselines ran under ${version} (${options.compareNode})`, ...there.notes],
    };
    run.finishedAt = new Date().toISOString();
  }

  process.stdout.write(`\n${renderText(run)}\n`);
  if (options.write) {
    const outDir = resolve(options.outDir ?? join(root, 'bench', 'results'));
    const jsonPath = writeResults(run, outDir);
    process.stdout.write(
      `\nwrote ${jsonPath}, ${join(outDir, 'latest.md')}, ${join(outDir, 'latest.svg')}\n`,
    );
  }
  clearTimeout(watchdog);
  return failures > 0 ? 1 : 0;
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  const interrupt = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${signal}, stopping every process\n`);
    void (activeGroup?.stopAll() ?? Promise.resolve()).finally(() => {
      removeTempDirs();
      process.exit(130);
    });
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  process.on('exit', () => {
    activeGroup?.killAllNow();
    removeTempDirs();
  });
  main(process.argv.slice(2)).then(
    (code) => {
      removeTempDirs();
      process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(
        `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      activeGroup?.killAllNow();
      removeTempDirs();
      process.exit(1);
    },
  );
}
