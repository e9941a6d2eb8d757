/**
 * The gateway's CPU per cold key load (issue 15), two builds side by side on one admin plane:
 * this checkout's gateway and a second one from another checkout (`KEYGATE_BENCH_BASE`, e.g. a
 * worktree of main), both against the same admin plane and seeded keys. Rounds alternate between
 * the two gateways; each round sends `perRound` never-used keys to `GET /v1/models` (every request
 * loads its key: hash, batched `POST /internal/keys`, resolve, cache, answer) and reads each
 * gateway's CPU from /proc, so the figure per load holds whatever the machine's load. After each
 * cold round, as many requests with the (cached) hot key on the same route: cold − hot is the
 * load itself, without the route's own cost.
 *
 * `KEYGATE_BENCH_PROFILE=<dir>` runs both gateways under `node --cpu-prof` (profiles in <dir>/this
 * and <dir>/base, written when they stop); `KEYGATE_BENCH_GATEWAY_NODE_ARGS` adds node flags to both
 * (e.g. `--perf-basic-prof` for `perf record -p <pid>`).
 *
 * Run: npm run build && KEYGATE_BENCH_BASE=/path/to/main-worktree node dist/bench/cold-load-pair.js [rounds=6] [perRound=10000]
 */
import { join } from 'node:path';
import { parseArgs } from './args.js';
import { BenchContext } from './context.js';
import { runLoad } from './load.js';
import { MODELS_PATH, type Planes } from './planes.js';
import { Entrypoints, freePort, ProcessGroup, removeTempDirs, waitForHttp, type Child } from './processes.js';
import { findRoot } from './run.js';
import { bearer } from './scenarios/gateway-load.js';
import type { SeededKey } from './seed.js';

const ROUNDS = Number(process.argv[2] ?? 6);
const PER_ROUND = Number(process.argv[3] ?? 10_000);
const CONNECTIONS = 50;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

const root = findRoot();
const baseRoot = process.env.KEYGATE_BENCH_BASE;
const profileDir = process.env.KEYGATE_BENCH_PROFILE;
const builds = baseRoot === undefined ? ['this'] : ['this', 'base'];
/** A warm-up round per gateway (JIT), then ROUNDS measured rounds each. */
const coldKeys = (ROUNDS + 1) * PER_ROUND * builds.length;
const options = parseArgs(['--no-write']);
const group = new ProcessGroup(new Entrypoints(root), new Entrypoints(root));
const ctx = new BenchContext(options, group, { keys: 0, coldKeys, revocationKeys: 0 }, log);

interface Gateway {
  build: string;
  url: string;
  child: Child;
  loads: number;
  cpuMs: number;
  adminCpuMs: number;
  seconds: number;
  /** The cached reference: the hot key on the same route, between the cold rounds. */
  hotRequests: number;
  hotCpuMs: number;
}

/** A gateway of `checkout` (its dist), with the bench gateway's environment on another port. */
async function startGateway(
  planes: Planes,
  build: string,
  checkout: string,
): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const env = (planes as unknown as { gatewayEnv(): Record<string, string> }).gatewayEnv();
  const child = group.spawnCommand(
    `gateway-${build}`,
    process.execPath,
    [...profileArgs(build), new Entrypoints(checkout).resolve('gateway/main')],
    {
      cwd: checkout,
      env: { ...env, KEYGATE_GATEWAY_PORT: String(port), KEYGATE_GATEWAY_ID: `bench-${build}` },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, child);
  return { url, child };
}

function profileArgs(build: string): string[] {
  const extra = process.env.KEYGATE_BENCH_GATEWAY_NODE_ARGS?.split(' ').filter((arg) => arg !== '') ?? [];
  return [
    ...extra,
    ...(profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(profileDir, build)]),
  ];
}

/** One round: `keys` cold (each used once), or `hotKey` as many times (the cached reference). */
async function round(
  gateway: Gateway,
  keys: readonly SeededKey[],
  admin: number,
  measure: boolean,
  hotKey?: string,
): Promise<void> {
  let next = 0;
  const result = await runLoad({
    origin: gateway.url,
    path: MODELS_PATH,
    method: 'GET',
    perRequest: () => bearer(hotKey ?? keys[next++]!.secret),
    connections: CONNECTIONS,
    durationS: 120,
    amount: keys.length,
    expectedStatus: 200,
    cpuPids: { gateway: gateway.child.pid, admin },
  });
  if (result.errors > 0)
    throw new Error(`${gateway.build}: ${result.errors} errors (${JSON.stringify(result.statusCounts)})`);
  const gw = result.cpuMs?.gateway ?? NaN;
  const ad = result.cpuMs?.admin ?? NaN;
  const gwUs = (gw * 1000) / result.requests;
  if (hotKey !== undefined) {
    log(`  ${gateway.build} hot key: ${result.requests} requests, gateway ${gwUs.toFixed(1)} µs per request`);
    if (measure) {
      gateway.hotRequests += result.requests;
      gateway.hotCpuMs += gw;
    }
    return;
  }
  log(
    `  ${gateway.build}${measure ? '' : ' (warm-up)'}: ${result.requests} loads, ${result.rps.toFixed(0)} /s, gateway ${((gw * 1000) / result.requests).toFixed(1)} µs, admin ${((ad * 1000) / result.requests).toFixed(1)} µs per load`,
  );
  if (!measure) return;
  gateway.loads += result.requests;
  gateway.cpuMs += gw;
  gateway.adminCpuMs += ad;
  gateway.seconds += result.durationS;
}

try {
  // The bench's own gateway stays idle: both measured gateways are started here (same flags).
  const planes = await ctx.planes();
  const gateways: Gateway[] = [];
  for (const build of builds) {
    const started = await startGateway(planes, build, build === 'this' ? root : baseRoot!);
    gateways.push({
      build,
      ...started,
      loads: 0,
      cpuMs: 0,
      adminCpuMs: 0,
      seconds: 0,
      hotRequests: 0,
      hotCpuMs: 0,
    });
  }
  let offset = 0;
  const take = (): SeededKey[] => planes.coldKeys.slice(offset, (offset += PER_ROUND));
  for (const gateway of gateways) log(`${gateway.build} gateway: pid ${gateway.child.pid}`);
  const hot = Array.from({ length: PER_ROUND }, () => ({ secret: planes.hotKey }) as SeededKey);
  const admin = planes.adminChild.pid;
  for (const gateway of gateways) {
    await round(gateway, take(), admin, false);
    await round(gateway, hot, admin, false, planes.hotKey);
  }
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? gateways : [...gateways].reverse();
    for (const gateway of order) {
      await round(gateway, take(), admin, true);
      await round(gateway, hot, admin, true, planes.hotKey);
    }
  }
  for (const gateway of gateways) {
    const cold = (gateway.cpuMs * 1000) / gateway.loads;
    const cached = (gateway.hotCpuMs * 1000) / gateway.hotRequests;
    log(
      `${gateway.build}: ${gateway.loads} loads, ${(gateway.loads / gateway.seconds).toFixed(0)} /s, gateway ${cold.toFixed(1)} µs, admin ${((gateway.adminCpuMs * 1000) / gateway.loads).toFixed(1)} µs CPU per load; hot key ${cached.toFixed(1)} µs, so the load itself ${(cold - cached).toFixed(1)} µs`,
    );
  }
  for (const gateway of gateways) await group.stop(gateway.child);
} finally {
  await group.stopAll();
  removeTempDirs();
}
