/**
 * Command-line flags of `npm run bench` (bench/README.md documents them). Pure: tested in
 * test/unit/bench/args.test.ts.
 */
export interface BenchOptions {
  /** Scenario names in run order; empty = every scenario. */
  scenarios: string[];
  durationS: number;
  warmupS: number;
  connections: number;
  /** Keys seeded for `many-keys` / `memory` (100,000 by default). */
  keys: number;
  /** Keys seeded and never touched before `cold-misses`. */
  coldKeys: number;
  /** Revocation trials per mode (≥ 50 by default). */
  trials: number;
  quick: boolean;
  compare: string | undefined;
  /** Write bench/results/<timestamp>.json, latest.md, latest.svg. */
  write: boolean;
  outDir: string | undefined;
  help: boolean;
  list: boolean;
  /** Run the gateway under `node --cpu-prof` and summarize where its CPU went. */
  profile: boolean;
  /** Node binary for the gateway and the Node baselines (default: the runner's own node). */
  node: string | undefined;
  /** A second Node binary: the same scenarios run again under it, side by side with ratios. */
  compareNode: string | undefined;
}

export const DEFAULTS = {
  durationS: 10,
  warmupS: 2,
  connections: 50,
  keys: 100_000,
  coldKeys: 120_000,
  trials: 50,
};
export const QUICK = {
  durationS: 2,
  warmupS: 0.5,
  connections: 50,
  keys: 5_000,
  coldKeys: 10_000,
  trials: 10,
};

export const USAGE = `usage: npm run bench -- [options]
  --scenario NAME     run only these scenarios (repeatable, or a comma list); --list shows them
  --duration S        seconds of measurement per load run (default ${DEFAULTS.durationS}; --quick ${QUICK.durationS})
  --warmup S          seconds of warm-up before each measurement (default ${DEFAULTS.warmupS}; --quick ${QUICK.warmupS})
  --connections C     concurrent connections of the throughput runs (default ${DEFAULTS.connections})
  --keys N            keys for many-keys and memory (default ${DEFAULTS.keys}; --quick ${QUICK.keys})
  --cold-keys N       never-used keys for cold-misses (default ${DEFAULTS.coldKeys}; --quick ${QUICK.coldKeys})
  --trials N          revocation trials per mode (default ${DEFAULTS.trials}; --quick ${QUICK.trials})
  --quick             short run (about a minute and a half) with smaller counts
  --compare REF       also run the same scenarios on git REF (a worktree) and print ratios
  --out DIR           results directory (default bench/results)
  --no-write          print only; write no result files
  --profile           run the gateway under node --cpu-prof; the report lists where its CPU went
  --node PATH         run the gateway, the hello and bare-proxy baselines and the decision bench under
                      this node binary (also KEYGATE_BENCH_NODE); admin, mock and load stay on this node
  --compare-node PATH run the same scenarios again with PATH as --node, and print ratios
  --list              list scenarios and exit
  --help              this text`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const base = quick ? QUICK : DEFAULTS;
  const options: BenchOptions = {
    scenarios: [],
    ...base,
    quick,
    compare: undefined,
    write: true,
    outDir: undefined,
    help: false,
    list: false,
    profile: false,
    node: undefined,
    compareNode: undefined,
  };
  const number = (flag: string, value: string | undefined, min: number): number => {
    const parsed = Number(value);
    if (value === undefined || !Number.isFinite(parsed) || parsed < min) {
      throw new UsageError(
        `${flag} needs a number ≥ ${min} (got ${value === undefined ? 'nothing' : `"${value}"`})`,
      );
    }
    return parsed;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--scenario':
      case '--scenarios': {
        const names = (value() ?? '')
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== '');
        if (names.length === 0) throw new UsageError(`${flag} needs a name`);
        for (const name of names) if (!options.scenarios.includes(name)) options.scenarios.push(name);
        break;
      }
      case '--duration':
        options.durationS = number(flag, value(), 0.1);
        break;
      case '--warmup':
        options.warmupS = number(flag, value(), 0);
        break;
      case '--connections':
        options.connections = Math.floor(number(flag, value(), 1));
        break;
      case '--keys':
        options.keys = Math.floor(number(flag, value(), 1));
        break;
      case '--cold-keys':
        options.coldKeys = Math.floor(number(flag, value(), 1));
        break;
      case '--trials':
        options.trials = Math.floor(number(flag, value(), 1));
        break;
      case '--compare': {
        const ref = value();
        if (ref === undefined || ref.startsWith('--')) throw new UsageError('--compare needs a git ref');
        options.compare = ref;
        break;
      }
      case '--out': {
        const dir = value();
        if (dir === undefined) throw new UsageError('--out needs a directory');
        options.outDir = dir;
        break;
      }
      case '--quick':
        break;
      case '--no-write':
        options.write = false;
        break;
      case '--profile':
        options.profile = true;
        break;
      case '--node':
      case '--compare-node': {
        const path = value();
        if (path === undefined || path.startsWith('--')) throw new UsageError(`${flag} needs a node binary`);
        if (flag === '--node') options.node = path;
        else options.compareNode = path;
        break;
      }
      case '--list':
        options.list = true;
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  if (options.compare !== undefined && options.compareNode !== undefined)
    throw new UsageError('--compare and --compare-node cannot be combined: one comparison per run');
  return options;
}
