/**
 * What one admitted request costs in Redis mode, measured without relying on throughput (issue 12:
 * the hot key in Redis mode vs memory mode): `node --import tsx bench/redis-cost.ts [--requests N]
 * [--rounds R] [--connections C] [--compare DIR] [--env=NAME=VALUE ...] [--no-strace]
 * [--profile DIR]`.
 *
 * Starts the mock upstream, an admin plane, a memory-mode gateway and a Redis-mode gateway, each
 * Redis-mode gateway with a redis-server of its own on a free port (never the shared one). With
 * `--compare DIR` (another checkout, e.g. a `git archive` of the base commit with node_modules
 * linked), that checkout's gateway is measured beside this one's, in alternating order each
 * round, so both see the same machine load. `--env` settings apply to this checkout's gateway.
 *
 * Per scenario and gateway, after a warm-up, each round sends a fixed number of requests and
 * reads, per request:
 * - Redis scripts (EVALSHA calls) and the commands they ran, and Redis usec (calls × usec_per_call
 *   of the top-level commands: wall time inside Redis, so it grows with machine load);
 * - redis-server and gateway CPU (utime + stime of /proc/<pid>/stat over the round);
 * - gateway and redis-server syscalls (`strace -c -f -p`, in one extra run, as tracing slows the
 *   process down).
 * Medians over the rounds are printed. Scenarios: `hot` (the redis-scale key: rpm + tpm on the key
 * only) and `scoped` (rpm + tpm on key, team and org, and an org budget, so every request also
 * reserves and settles spend).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runLoad, type LoadSpec } from './load.js';
import { freePort } from './processes.js';

const MASTER = 'bench-redis-master-key-0123456789';
const SECRET = 'bench-redis-internal-secret-0123456789abcdef';
const argValue = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const requests = Number(argValue('--requests') ?? 20_000);
const rounds = Number(argValue('--rounds') ?? 3);
const connections = Number(argValue('--connections') ?? 32);
const compareRoot = argValue('--compare');
/** Writes a CPU profile of this checkout's Redis-mode gateway into this directory (at its stop). */
const profileDir = argValue('--profile');
const withStrace = !process.argv.includes('--no-strace');
const extraEnv = Object.fromEntries(
  process.argv.filter((arg) => arg.startsWith('--env=')).map((arg) => arg.slice(6).split('=', 2)),
) as Record<string, string>;
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-redis-cost-'));
const ticksPerSecond = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);
/** Commands keygate sends outside scripts (their usec is not part of a script's). */
const TOP_LEVEL = new Set(['ping', 'del', 'publish', 'info', 'client|setname', 'client|setinfo']);

/** utime + stime of a process and its threads, in µs. */
function cpuMicros(pid: number): number {
  const [user, system] = cpuSplit(pid);
  return user + system;
}

/** utime and stime of a process, in µs. */
function cpuSplit(pid: number): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [(Number(fields[11]) * 1e6) / ticksPerSecond, (Number(fields[12]) * 1e6) / ticksPerSecond];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function up(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${url} not up`);
}

async function node(
  root: string,
  entry: string,
  env: Record<string, string>,
  url: string,
  args: string[] = [],
  nodeArgs: string[] = [],
) {
  const log = openSync(join(dir, `${entry.replaceAll('/', '-')}-${children.length}.log`), 'w');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(root, entry), ...args], {
    cwd: root,
    env: { ...process.env, KEYGATE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', log, 'inherit'],
  });
  children.push(child);
  await up(url);
  return child;
}

function redisCli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args]).stdout?.toString() ?? '';
}

async function redisServer(): Promise<{ port: number; pid: number }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  children.push(child);
  for (let i = 0; redisCli(port, 'ping').trim() !== 'PONG'; i++) {
    if (i > 200) throw new Error('redis-server did not start');
    await sleep(25);
  }
  return { port, pid: child.pid! };
}

/** calls and usec per command since the last CONFIG RESETSTAT. */
function commandStats(port: number): Map<string, { calls: number; usec: number }> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const line of redisCli(port, 'INFO', 'commandstats').split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (match !== null && !match[1]!.startsWith('config'))
      stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
  }
  return stats;
}

/** Total syscalls of `strace -c` output. */
function straceTotal(text: string): number {
  const total = /\n-+[ -]+\n100\.00\s+[\d.]+\s+\d+\s+(\d+)/.exec(text);
  return total === null ? Number.NaN : Number(total[1]);
}

async function traced(pids: number[], run: () => Promise<unknown>): Promise<number[]> {
  const tracers = pids.map((pid) => {
    const out = join(dir, `strace-${pid}.txt`);
    const tracer = spawn('strace', ['-c', '-f', '-p', String(pid), '-o', out], { stdio: 'ignore' });
    return { tracer, out, exited: new Promise((resolve) => tracer.once('exit', resolve)) };
  });
  await sleep(500);
  await run();
  for (const { tracer } of tracers) tracer.kill('SIGINT');
  await Promise.all(tracers.map((t) => t.exited));
  return tracers.map(({ out }) => straceTotal('\n' + readFileSync(out, 'utf8')));
}

interface Gateway {
  name: string;
  url: string;
  pid: number;
  redis?: { port: number; pid: number };
}

interface Round {
  scripts: number;
  inner: number;
  usec: number;
  redisCpu: number;
  gatewayCpu: number;
  /** Of gatewayCpu, in the kernel (stime). */
  gatewaySystem: number;
  commands: Map<string, { calls: number; usec: number }>;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const here = resolve('.');
  const mockPort = await freePort();
  const mock = `http://127.0.0.1:${mockPort}`;
  await node(here, 'bench/mock-upstream.ts', {}, mock, ['--port', String(mockPort)]);
  const adminPort = await freePort();
  const admin = `http://127.0.0.1:${adminPort}`;
  await node(
    here,
    'admin/main.ts',
    {
      KEYGATE_DB_PATH: join(dir, 'bench.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_MASTER_KEY: MASTER,
      KEYGATE_INTERNAL_SECRET: SECRET,
      KEYGATE_GATEWAY_URLS: '',
    },
    admin,
  );
  const startGateway = async (
    name: string,
    root: string,
    redis: boolean,
    env: Record<string, string> = {},
    nodeArgs: string[] = [],
  ) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = redis ? await redisServer() : undefined;
    const redisEnv: Record<string, string> =
      server === undefined
        ? {}
        : {
            REDIS_URL: `redis://127.0.0.1:${server.port}`,
            KEYGATE_REDIS_PREFIX: 'bench:',
            // On a loaded machine a 250 ms answer happens; a fallback admission would skew the counts.
            KEYGATE_REDIS_TIMEOUT_MS: '10000',
          };
    const child = await node(
      root,
      'gateway/main.ts',
      {
        KEYGATE_GATEWAY_PORT: String(port),
        KEYGATE_ADMIN_URL: admin,
        KEYGATE_INTERNAL_SECRET: SECRET,
        ...redisEnv,
        ...env,
      },
      `${url}/healthz`,
      [],
      nodeArgs,
    );
    const gateway: Gateway = { name, url, pid: child.pid!, redis: server };
    return gateway;
  };
  const gateways: Gateway[] = [await startGateway('memory', here, false)];
  if (compareRoot !== undefined)
    gateways.push(await startGateway('redis (compared)', resolve(compareRoot), true));
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDir)}`];
  gateways.push(await startGateway('redis (this)', here, true, extraEnv, profile));

  const api = async (path: string, body: unknown): Promise<{ id: string; secret: string }> => {
    const response = await fetch(`${admin}/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: string; secret: string };
  };
  const big = { rpm_limit: 1_000_000_000, tpm_limit: 1_000_000_000_000 };
  await api('/targets', {
    name: 'bench-model',
    upstream: { base_url: `${mock}/v1` },
    pricing: { input_per_mtok: 1, output_per_mtok: 2 },
  });
  const hotOrg = await api('/orgs', { name: 'bench-org' });
  const hotTeam = await api('/teams', { org_id: hotOrg.id, name: 'bench-team' });
  const hot = await api('/keys', {
    name: 'hot',
    team_id: hotTeam.id,
    owner: { type: 'service_account', create: { name: 'bench-svc' } },
    ...big,
  });
  const scopedOrg = await api('/orgs', { name: 'scoped-org', ...big, max_budget: 1_000_000 });
  const scopedTeam = await api('/teams', { org_id: scopedOrg.id, name: 'scoped-team', ...big });
  const scoped = await api('/keys', {
    name: 'scoped',
    team_id: scopedTeam.id,
    owner: { type: 'service_account', create: { name: 'scoped-svc' } },
    ...big,
  });
  await sleep(1500); // the target reaches every gateway (change-feed pull)

  const spec = (origin: string, secret: string, amount: number): LoadSpec => ({
    origin,
    path: '/v1/chat/completions',
    method: 'POST',
    body: JSON.stringify({
      model: 'bench-model',
      messages: [{ role: 'user', content: 'hello bench' }],
      max_tokens: 16,
    }),
    headers: { authorization: `Bearer ${secret}` },
    connections,
    durationS: 600,
    amount,
    expectedStatus: 200,
  });

  const measure = async (gateway: Gateway, secret: string, label: string): Promise<Round> => {
    const { redis } = gateway;
    if (redis !== undefined) redisCli(redis.port, 'CONFIG', 'RESETSTAT');
    const cpu0 = [cpuMicros(gateway.pid), redis === undefined ? 0 : cpuMicros(redis.pid)];
    const system0 = cpuSplit(gateway.pid)[1];
    const run = await runLoad(spec(gateway.url, secret, requests));
    await sleep(300); // the last settlements land
    const cpu1 = [cpuMicros(gateway.pid), redis === undefined ? 0 : cpuMicros(redis.pid)];
    const system1 = cpuSplit(gateway.pid)[1];
    if (run.errors > 0)
      throw new Error(`${label}: ${run.errors} errors ${JSON.stringify(run.statusCounts)} (logs in ${dir})`);
    const n = run.requests;
    const commands = redis === undefined ? new Map() : commandStats(redis.port);
    let scripts = 0;
    let inner = 0;
    let usec = 0;
    for (const [command, stat] of commands) {
      if (command === 'evalsha' || command === 'eval') {
        scripts += stat.calls;
        usec += stat.usec;
      } else if (TOP_LEVEL.has(command)) usec += stat.usec;
      else inner += stat.calls;
    }
    return {
      scripts: scripts / n,
      inner: inner / n,
      usec: usec / n,
      redisCpu: (cpu1[1]! - cpu0[1]!) / n,
      gatewayCpu: (cpu1[0]! - cpu0[0]!) / n,
      gatewaySystem: (system1 - system0) / n,
      commands: new Map(
        [...commands].map(([name, stat]) => [name, { calls: stat.calls / n, usec: stat.usec / stat.calls }]),
      ),
    };
  };

  const lines: string[] = [];
  const details: string[] = [];
  for (const [scenario, secret] of [
    ['hot', hot.secret],
    ['scoped', scoped.secret],
  ] as const) {
    const results = new Map<Gateway, Round[]>(gateways.map((gateway) => [gateway, []]));
    for (const gateway of gateways) {
      const warm = await runLoad(spec(gateway.url, secret, 3000));
      if (warm.errors > 0)
        throw new Error(`${scenario}/${gateway.name}: ${warm.errors} errors in the warm-up`);
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? gateways : [...gateways].reverse();
      for (const gateway of order)
        results.get(gateway)!.push(await measure(gateway, secret, `${scenario}/${gateway.name}`));
    }
    for (const gateway of gateways) {
      const all = results.get(gateway)!;
      const m = (pick: (round: Round) => number) => median(all.map(pick));
      let syscalls = [Number.NaN, Number.NaN];
      if (withStrace) {
        const pids = gateway.redis === undefined ? [gateway.pid] : [gateway.pid, gateway.redis.pid];
        syscalls = await traced(pids, () => runLoad(spec(gateway.url, secret, requests)));
      }
      const cpus = all.map((round) => round.gatewayCpu.toFixed(0)).join('/');
      lines.push(
        `| ${scenario} | ${gateway.name} | ${m((r) => r.scripts).toFixed(2)} | ${m((r) => r.inner).toFixed(2)} | ` +
          `${m((r) => r.usec).toFixed(1)} | ${m((r) => r.redisCpu).toFixed(1)} | ${m((r) => r.gatewayCpu).toFixed(0)} (${cpus}; sys ${m((r) => r.gatewaySystem).toFixed(0)}) | ` +
          `${(syscalls[0]! / requests).toFixed(2)} | ${((syscalls[1] ?? Number.NaN) / requests).toFixed(2)} |`,
      );
      const last = all.at(-1)!;
      if (last.commands.size > 0)
        details.push(
          `${scenario}/${gateway.name}: ` +
            [...last.commands]
              .map(([name, stat]) => `${name} ${stat.calls.toFixed(2)} × ${stat.usec.toFixed(1)} µs`)
              .join(', '),
        );
    }
  }
  console.log(
    `\n${requests} requests per round, ${rounds} rounds, ${connections} connections; medians (gateway CPU: every round)\n`,
  );
  console.log(
    '| scenario | gateway | Redis scripts/req | inner commands/req | Redis usec/req | redis-server CPU µs/req | gateway CPU µs/req | gateway syscalls/req | redis-server syscalls/req |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const line of lines) console.log(line);
  console.log('\nLast round, per request: calls × usec_per_call (inner commands of scripts included):');
  for (const line of details) console.log(`- ${line}`);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGTERM');
    if (process.exitCode !== 1) setTimeout(() => rmSync(dir, { recursive: true, force: true }), 500).unref();
  });
