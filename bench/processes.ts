/**
 * Child processes of a bench run: started from compiled JS (or TypeScript through tsx in the
 * runner's own tests), waited for until they answer HTTP, and always stopped (SIGTERM, then
 * SIGKILL after a grace period) even when a scenario throws or the run is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

export type Runtime = 'dist' | 'tsx';

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Last lines the process wrote (stdout and stderr), for error messages. */
  output(): string;
  exited: Promise<number | null>;
}

export interface StartOptions {
  /** Extra CLI arguments after the script. */
  args?: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Arguments for node itself, e.g. --cpu-prof. */
  nodeArgs?: readonly string[];
  /**
   * Resolve the entry in the system under test (admin, gateway, decision bench) rather than in the
   * runner's own checkout (mock upstream, baselines): they differ in `--compare` runs.
   */
  system?: boolean;
  /** A command the node process runs under, e.g. `['valgrind', '--tool=callgrind']`. */
  wrapper?: readonly string[];
}

/**
 * Where the entry points live: `root` is a checkout (this one, or a `--compare` worktree);
 * `dist` runs `<root>/dist/<entry>.js`, `tsx` runs `<root>/<entry>.ts` through tsx.
 */
export class Entrypoints {
  constructor(
    readonly root: string,
    readonly runtime: Runtime = 'dist',
  ) {}

  resolve(entry: string): string {
    return this.runtime === 'dist' ? join(this.root, 'dist', `${entry}.js`) : join(this.root, `${entry}.ts`);
  }

  exists(entry: string): boolean {
    return existsSync(this.resolve(entry));
  }

  nodeArgs(): string[] {
    return this.runtime === 'tsx' ? ['--import', 'tsx'] : [];
  }
}

/**
 * What `--node` switches to another Node binary: the gateway and what it is compared with or
 * measured by in-process (pure JavaScript). The admin plane stays on the runner's node (its
 * better-sqlite3 addon is built for it), as do the mock upstream and the load generator.
 */
export const NODE_SWITCHED_ENTRIES: ReadonlySet<string> = new Set([
  'gateway/main',
  'bench/baselines/hello',
  'bench/baselines/bare-proxy',
  'bench/decision-bench',
]);

export class ProcessGroup {
  private readonly children = new Set<Child>();
  /** Every pid this group ever started (tests check none survives the run). */
  readonly startedPids: number[] = [];

  constructor(
    private readonly tools: Entrypoints,
    private readonly system: Entrypoints = tools,
    /** `--node`: the binary for NODE_SWITCHED_ENTRIES (undefined = the runner's own). */
    readonly node: string | undefined = undefined,
  ) {}

  nodeFor(entry: string): string {
    return this.node !== undefined && NODE_SWITCHED_ENTRIES.has(entry) ? this.node : process.execPath;
  }

  get systemRoot(): string {
    return this.system.root;
  }

  has(entry: string, system = false): boolean {
    return (system ? this.system : this.tools).exists(entry);
  }

  start(name: string, entry: string, options: StartOptions = {}): Child {
    const entrypoints = options.system === true ? this.system : this.tools;
    const script = entrypoints.resolve(entry);
    if (!existsSync(script)) throw new Error(`${name}: ${script} does not exist (did the build run?)`);
    const command = [
      this.nodeFor(entry),
      ...entrypoints.nodeArgs(),
      ...(options.nodeArgs ?? []),
      script,
      ...(options.args ?? []),
    ];
    const [program, ...args] = [...(options.wrapper ?? []), ...command];
    return this.spawnCommand(name, program!, args, { cwd: entrypoints.root, ...options });
  }

  /** Any executable (nginx). */
  spawnCommand(name: string, command: string, args: readonly string[], options: StartOptions = {}): Child {
    const child = spawn(command, args, {
      cwd: options.cwd ?? this.tools.root,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const keep = (chunk: Buffer): void => {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      if (lines.length > 40) lines.splice(0, lines.length - 40);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', (error) => {
        lines.push(String(error));
        resolve(null);
      });
    });
    if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    const handle: Child = { name, pid: child.pid, process: child, output: () => lines.join('\n'), exited };
    this.startedPids.push(child.pid);
    this.children.add(handle);
    void exited.then(() => this.children.delete(handle));
    return handle;
  }

  async stop(child: Child, graceMs = 3000): Promise<void> {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      this.children.delete(child);
      return;
    }
    child.process.kill('SIGTERM');
    const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
    this.children.delete(child);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.stop(child)));
  }

  /** Synchronous last resort for process 'exit' handlers. */
  killAllNow(): void {
    for (const child of this.children) child.process.kill('SIGKILL');
  }

  get running(): number {
    return this.children.size;
  }
}

/** A port the OS reports free on 127.0.0.1 (tiny race until the child binds it; fine locally). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Poll `url` until it answers any HTTP status; fail early with the child's output if it dies. */
export async function waitForHttp(url: string, child: Child | undefined, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child !== undefined && (child.process.exitCode !== null || child.process.signalCode !== null)) {
      throw new Error(
        `${child.name} exited (${child.process.exitCode ?? child.process.signalCode}) before answering:\n${child.output()}`,
      );
    }
    try {
      const response = await request(url, { method: 'GET', headersTimeout: 1000, bodyTimeout: 1000 });
      await response.body.dump();
      return;
    } catch (error) {
      lastError = String(error);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(
    `${child?.name ?? url} did not answer within ${timeoutMs} ms (${lastError})${child ? `:\n${child.output()}` : ''}`,
  );
}

/** Resident set size of a process in MB (Linux /proc; null elsewhere). */
export function rssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Linux clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;

/**
 * CPU time a process has used so far, user + system, in ms (Linux /proc; null elsewhere or when
 * the process is gone). Its difference over a load run ÷ requests is the process's CPU per
 * request: steadier on a shared machine than rps, which other work's share of the cores moves,
 * though not independent of load (at a few hundred rps each request pays its own wake-ups and
 * syscalls, which a busy process shares between requests), and it includes the process's timers.
 */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from its closing parenthesis:
    // state is field 3, utime 14 and stime 15 of the whole line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_S : null;
  } catch {
    return null;
  }
}

const tempDirs = new Set<string>();

/** A temporary directory removed by `removeTempDirs()` at the end of the run, whatever happens. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export interface ForcedGcMemory {
  rssMb: number;
  heapUsedMb: number;
  /** Memory of C++ objects bound to JS objects (Buffers included), and of ArrayBuffers alone. */
  externalMb: number;
  arrayBuffersMb: number;
  /** Right after the first two GCs, before V8 gave the freed pages back (bench/gc-hook.ts). */
  immediateRssMb: number | null;
  immediateHeapTotalMb: number | null;
  heapTotalMb: number;
  /**
   * After the `gc()` phase alone, before the memory-reducing GCs (bench/gc-hook.ts): the figures
   * the bench reported before those existed. Null from a hook without that phase.
   */
  forcedOnly: { rssMb: number; heapUsedMb: number; heapTotalMb: number } | null;
  /** False when the process ran without --expose-gc (then the figures are before any GC). */
  forced: boolean;
  /** The heap snapshot written after the GC (KEYGATE_BENCH_HEAP_SNAPSHOT_DIR set), else null. */
  snapshotPath: string | null;
}

/**
 * Memory of a process started with bench/gc-hook.ts after a forced full GC: signals it, waits
 * for its answer file (up to `timeoutMs`). Null when it does not answer (no hook, not Linux).
 */
export async function forcedGcMemory(pid: number, timeoutMs = 60_000): Promise<ForcedGcMemory | null> {
  const file = join(tmpdir(), `keygate-bench-gc-${pid}.json`);
  rmSync(file, { force: true });
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {
    return null;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    try {
      const usage = JSON.parse(text) as {
        rss: number;
        heapUsed: number;
        heapTotal: number;
        immediate?: { rss: number; heapTotal: number };
        forcedOnly?: { rss: number; heapUsed: number; heapTotal: number };
        external: number;
        arrayBuffers: number;
        forced: boolean;
        snapshot?: string;
      };
      rmSync(file, { force: true });
      const mb = (bytes: number): number => bytes / 1024 / 1024;
      return {
        rssMb: mb(usage.rss),
        heapUsedMb: mb(usage.heapUsed),
        externalMb: mb(usage.external),
        arrayBuffersMb: mb(usage.arrayBuffers),
        heapTotalMb: mb(usage.heapTotal),
        immediateRssMb: usage.immediate === undefined ? null : mb(usage.immediate.rss),
        immediateHeapTotalMb: usage.immediate === undefined ? null : mb(usage.immediate.heapTotal),
        forcedOnly:
          usage.forcedOnly === undefined
            ? null
            : {
                rssMb: mb(usage.forcedOnly.rss),
                heapUsedMb: mb(usage.forcedOnly.heapUsed),
                heapTotalMb: mb(usage.forcedOnly.heapTotal),
              },
        forced: usage.forced,
        snapshotPath: usage.snapshot ?? null,
      };
    } catch {
      continue; // written half way: read again
    }
  }
  return null;
}
