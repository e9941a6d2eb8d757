/**
 * What the per-request info line costs the gateway (issue 13, item 13: ≤ 5 % of hot-key
 * throughput), measured so that machine load does not change the figure: the same compiled
 * gateway at KEYGATE_LOG_LEVEL=warn (no request lines) and =info, its stdout a file or a pipe
 * drained by `cat` (what the Docker image and `keygate start` give it), a fixed number of hot-key
 * requests after a fixed warm-up, and per measured request one of:
 *
 * - `cpu`: the gateway's CPU time (utime + stime of /proc/<pid>/stat, every thread), a fresh
 *   gateway per repetition, levels alternated; mean and spread over the repetitions;
 * - `callgrind`: instructions executed (every thread), the gateway under valgrind, counters
 *   zeroed after the warm-up (`callgrind_control -z`) and dumped after the measured requests (`-d`);
 * - `strace`: system calls (`strace -c -f -p PID` attached after the warm-up).
 *
 * Each run also checks the answers (all 200) and, for a file, that it holds one request line per
 * request at info and none at warn. Run after `npm run build`:
 *
 *   node dist/bench/logging-cost.js --measure cpu|callgrind|strace [--sink file|pipe|both]
 *     [--warmup 3000] [--requests 3000] [--reps 1] [--connections 8] [--env NAME=value]... [--keep DIR]
 *
 * `--keep DIR` keeps the callgrind dumps and strace tables there (callgrind_annotate reads them).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { request } from 'undici';
import { Entrypoints, ProcessGroup, freePort, waitForHttp } from './processes.js';

type Measure = 'cpu' | 'callgrind' | 'strace';
type Sink = 'file' | 'pipe';
const LEVELS = ['warn', 'info'] as const;

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1]! : fallback;
};
const measure = flag('measure', 'cpu') as Measure;
const sinks: Sink[] = flag('sink', 'both') === 'both' ? ['file', 'pipe'] : [flag('sink', 'file') as Sink];
const warmup = Number(flag('warmup', '3000'));
const requests = Number(flag('requests', '3000'));
const reps = Number(flag('reps', '1'));
const connections = Number(flag('connections', '8'));
const keep = flag('keep', '');
const extraEnv = Object.fromEntries(
  args.flatMap((arg, i) => (args[i - 1] === '--env' ? [arg.split(/=(.*)/s).slice(0, 2)] : [])),
) as Record<string, string>;
if (!['cpu', 'callgrind', 'strace'].includes(measure)) throw new Error(`--measure cpu|callgrind|strace`);

const root = fileURLToPath(new URL('../..', import.meta.url));
const group = new ProcessGroup(new Entrypoints(root, 'dist'));
const dir = mkdtempSync(join(tmpdir(), 'keygate-logging-'));
const secret = 'logging-cost-internal-secret-0123456789abcdef';
const master = 'logging-cost-master-key-0123456789';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let running: { stop(): Promise<void> } | undefined;

/** CPU seconds (user + system, all threads) a process has used so far (100 Hz ticks). */
const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** Runs a command to its end; rejects on a non-zero exit. */
const run = (command: string, argv: string[]): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });

async function main(): Promise<void> {
  if (keep !== '') mkdirSync(keep, { recursive: true });
  const [mockPort, adminPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
  const mock = group.start('mock', 'bench/mock-upstream', { args: ['--port', String(mockPort)] });
  await waitForHttp(`http://127.0.0.1:${mockPort}/__stats`, mock);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const admin = group.start('admin', 'admin/main', {
    env: {
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_MASTER_KEY: master,
      KEYGATE_INTERNAL_SECRET: secret,
      KEYGATE_GATEWAY_URLS: gatewayUrl,
      KEYGATE_LOG_LEVEL: 'warn',
    },
  });
  await waitForHttp(`${adminUrl}/healthz`, admin);
  const api = async (path: string, body: unknown): Promise<{ id: string; secret: string }> => {
    const answer = await request(`${adminUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${master}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (answer.statusCode !== 201)
      throw new Error(`${path}: ${answer.statusCode} ${await answer.body.text()}`);
    return (await answer.body.json()) as { id: string; secret: string };
  };
  await api('/v1/targets', {
    name: 'bench-model',
    upstream: { base_url: `http://127.0.0.1:${mockPort}/v1` },
    pricing: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
  });
  const org = await api('/v1/orgs', { name: 'logging' });
  const team = await api('/v1/teams', { org_id: org.id, name: 'logging-team' });
  const key = await api('/v1/keys', {
    name: 'hot',
    team_id: team.id,
    owner: { type: 'service_account', create: { name: 'logging-load' } },
  });
  const load = async (amount: number): Promise<void> => {
    const result = await autocannon({
      url: `${gatewayUrl}/v1/chat/completions`,
      method: 'POST',
      connections,
      amount,
      timeout: 300, // seconds: the first requests under valgrind wait for the JIT
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'bench-model',
        messages: [{ role: 'user', content: 'Say hello to the benchmark, briefly.' }],
        max_tokens: 16,
      }),
    });
    const ok = result['2xx'];
    if (ok !== amount) {
      const statuses = JSON.stringify(result.statusCodeStats);
      throw new Error(
        `${amount - ok} of ${amount} requests were not 200 (${statuses}, errors ${result.errors})`,
      );
    }
  };

  process.stdout.write(
    `logging cost: measure ${measure}, warm-up ${warmup}, measured ${requests}, ${connections} connections, ` +
      `load average ${loadavg()[0]!.toFixed(2)}, node ${process.version}\n`,
  );
  const results: Record<string, Record<string, number[]>> = {};
  for (const sink of sinks) {
    for (let rep = 0; rep < reps; rep++) {
      for (const level of rep % 2 === 0 ? LEVELS : [...LEVELS].reverse()) {
        const logPath = join(dir, `gateway-${sink}-${level}-${rep}.log`);
        const gateway = startGateway(sink, logPath, {
          KEYGATE_GATEWAY_HOST: '127.0.0.1',
          KEYGATE_GATEWAY_PORT: String(gatewayPort),
          KEYGATE_ADMIN_URL: adminUrl,
          KEYGATE_INTERNAL_SECRET: secret,
          KEYGATE_SPOOL_DIR: join(dir, 'spool'),
          KEYGATE_PRELOAD_KEYS: '0',
          // Work done per unit of time, not per request (the change-feed pull, the usage batch
          // sent to the admin plane) would be charged to fewer requests the slower the gateway
          // runs (valgrind: ~50× slower): once an hour, so per request only per-request work counts.
          KEYGATE_RESYNC_INTERVAL_MS: '3600000',
          KEYGATE_USAGE_FLUSH_MS: '3600000',
          // The key stays fresh in the cache for the whole run (no reload from the admin plane), and
          // no request waiting behind a slow (valgrind) gateway is cut by the slow-client deadlines.
          KEYGATE_CACHE_TTL_MS: '3600000',
          KEYGATE_HEADERS_TIMEOUT_MS: '3600000',
          KEYGATE_REQUEST_TIMEOUT_MS: '3600000',
          KEYGATE_LOG_LEVEL: level,
          ...extraEnv,
        });
        running = gateway;
        let figures: Record<string, number>;
        try {
          await waitForHttp(`${gatewayUrl}/healthz`, undefined, 900_000);
          await load(warmup);
          figures = await measured(gateway.child.pid!, `${sink}-${level}-${rep + 1}`, () => load(requests));
        } finally {
          await gateway.stop();
        }
        const row = (results[`${sink} ${level}`] ??= {});
        for (const [name, value] of Object.entries(figures)) (row[name] ??= []).push(value);
        const shown = Object.entries(figures).map(([name, value]) => `${name} ${round(value)}`);
        process.stdout.write(`${sink} ${level} #${rep + 1}: ${shown.join(', ')}\n`);
        if (sink === 'file') {
          const lines = readFileSync(logPath, 'utf8')
            .split('\n')
            .filter((l) => l.includes('"msg":"request"'));
          const want = level === 'info' ? warmup + requests : 0;
          if (lines.length !== want)
            throw new Error(`${logPath}: ${lines.length} request lines, want ${want}`);
        }
      }
    }
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const spread = (values: number[]) =>
    values.length > 1 ? ` (${round(Math.min(...values))}–${round(Math.max(...values))})` : '';
  for (const sink of sinks) {
    for (const name of Object.keys(results[`${sink} warn`]!)) {
      const [warn, info] = [results[`${sink} warn`]![name]!, results[`${sink} info`]![name]!];
      process.stdout.write(
        `${sink}, ${name}: warn ${round(mean(warn))}${spread(warn)}, info ${round(mean(info))}${spread(info)}: ` +
          `info ${(mean(info) / mean(warn) - 1) * 100 >= 0 ? '+' : ''}${((mean(info) / mean(warn) - 1) * 100).toFixed(1)} %\n`,
      );
    }
  }
}

const round = (value: number): string =>
  value >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 100 ? 0 : 2);

/** Inclusive instructions of `fn` in a callgrind dump (0 when it never ran). */
const inclusive = (dump: string, fn: string): number => {
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dump], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  }).stdout;
  const line = annotated.split('\n').find((l) => l.includes(fn));
  return line === undefined ? 0 : Number(line.trim().split(' ')[0]!.replaceAll(',', ''));
};

/** The figures per measured request while `work` runs. */
async function measured(
  pid: number,
  label: string,
  work: () => Promise<void>,
): Promise<Record<string, number>> {
  if (measure === 'cpu') {
    const before = cpuSeconds(pid);
    const started = performance.now();
    await work();
    const seconds = (performance.now() - started) / 1000;
    return { 'µs CPU': ((cpuSeconds(pid) - before) * 1e6) / requests, rps: requests / seconds };
  }
  if (measure === 'callgrind') {
    await run('callgrind_control', ['-i', 'on', String(pid)]);
    await run('callgrind_control', ['-z', String(pid)]);
    await work();
    await run('callgrind_control', ['-d', String(pid)]);
    const name = readdirSync(dir).find((file) => file.startsWith(`cg.${pid}.`));
    if (name === undefined) throw new Error('no callgrind dump');
    const dump = join(dir, name);
    if (keep !== '') copyFileSync(dump, join(keep, `${label}.${name}`));
    const total = Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(dump, 'utf8'))![1]);
    // TurboFan compiles on background threads, a varying amount in any window (±10 % of the
    // total between two identical gateways): left out of the second figure.
    const turbofan = inclusive(dump, 'OptimizingCompileDispatcher::CompileTask::RunInternal');
    return { instructions: total / requests, 'instructions without TurboFan': (total - turbofan) / requests };
  }
  const out = join(dir, `strace-${pid}.txt`);
  const strace = spawn('strace', ['-c', '-f', '-p', String(pid), '-o', out], { stdio: 'ignore' });
  await sleep(1000); // attached to every thread
  await work();
  strace.kill('SIGINT');
  await new Promise((resolve) => strace.once('exit', resolve));
  const table = readFileSync(out, 'utf8');
  if (keep !== '') copyFileSync(out, join(keep, `${label}.strace.txt`));
  const calls = (syscall: string): number => {
    const line = table.split('\n').find((l) => l.trim().split(/\s+/).at(-1) === syscall);
    if (line === undefined) return 0;
    const columns = line.trim().split(/\s+/); // % time, seconds, usecs/call, calls, [errors,] name
    return Number(columns[3]);
  };
  return {
    syscalls: calls('total') / requests,
    write: calls('write') / requests,
    futex: calls('futex') / requests,
  };
}

/** The gateway with stdout a file or a pipe into `cat > /dev/null`, under valgrind for callgrind. */
function startGateway(sink: Sink, logPath: string, env: Record<string, string>) {
  const script = fileURLToPath(new URL('../gateway/main.js', import.meta.url)); // the same build
  const [command, argv] =
    measure === 'callgrind'
      ? [
          'valgrind',
          // Not instrumented until the warm-up is over (`callgrind_control -i on`): start-up and
          // warm-up run several times faster.
          [
            '--tool=callgrind',
            '--instr-atstart=no',
            `--callgrind-out-file=${join(dir, 'cg.%p')}`,
            process.execPath,
            script,
          ],
        ]
      : [process.execPath, [script]];
  let drain: ChildProcess | undefined;
  let stdout: number | Writable;
  if (sink === 'file') stdout = openSync(logPath, 'w');
  else {
    drain = spawn('cat', [], { stdio: ['pipe', 'ignore', 'inherit'] });
    stdout = drain.stdin!;
  }
  const child = spawn(command, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  if (typeof stdout === 'number') closeSync(stdout);
  else drain!.stdin!.destroy(); // the gateway holds the write end; cat sees EOF when it exits
  return {
    child,
    stop: async () => {
      const exited = new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null ? resolve(0) : child.once('exit', resolve),
      );
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
      if (drain !== undefined)
        await new Promise((resolve) =>
          drain!.exitCode !== null ? resolve(0) : drain!.once('exit', resolve),
        );
    },
  };
}

const cleanUp = async (): Promise<void> => {
  await running?.stop();
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanUp().then(() => process.exit(130)));
try {
  await main();
} finally {
  await cleanUp();
}
