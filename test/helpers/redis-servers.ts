/**
 * Redis servers that a test owns: a standalone `redis-server` or a 3-master Redis Cluster
 * (`--cluster-enabled yes` + `redis-cli --cluster create`), on free ports, in a temporary
 * directory, without persistence. Tests that stop or restart Redis use these, never the shared
 * server on 127.0.0.1:6379.
 *
 * `redisAvailable` says whether the binaries exist; Redis-mode suites skip with a visible message
 * (`skipReason`) only when they do not.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/processes.js';
import { retryIfPortTaken } from './free-ports.js';

export const redisAvailable =
  spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;

/** Printed by suites that skip: a skipped Redis suite must never look like a passed one. */
export function skipReason(what: string): string {
  return `SKIPPED ${what}: redis-server / redis-cli not found on PATH (install Redis to run the Redis-mode tests)`;
}

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server (SIGKILL when `hard`), keeping its port for `start`. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port (empty: there is no persistence). */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

/** A redis-server child and what it printed (its bind error, when the port was taken). */
interface RedisProcess {
  child: ChildProcess;
  output: () => string;
}

function startProcess(port: number, dir: string, extra: string[]): RedisProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

/**
 * Until the server on `port` answers PING; throws at once, with what it printed, when it exited
 * first (its port taken meanwhile: retryIfPortTaken starts it again on a new one).
 */
async function waitForPing(port: number, server: RedisProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null)
      throw new Error(`redis-server on ${port} exited before it answered:\n${server.output()}`);
    const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (ping.stdout.trim() === 'PONG') return;
    if (Date.now() > deadline)
      throw new Error(`redis-server on ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/** One standalone redis-server on a free port (another one if that was taken meanwhile). */
export function startRedisServer(): Promise<RedisServer> {
  return retryIfPortTaken(startRedisServerOnce);
}

async function startRedisServerOnce(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'keygate-redis-'));
  let server = startProcess(port, dir, []);
  try {
    await waitForPing(port, server);
  } catch (error) {
    await kill(server.child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const child = () => server.child;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop(hard = false) {
      await kill(child(), hard ? 'SIGKILL' : 'SIGTERM');
    },
    async start() {
      if (child().exitCode === null && child().signalCode === null) return;
      server = startProcess(port, dir, []);
      await waitForPing(port, server);
    },
    async close() {
      await kill(child(), 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  ports: number[];
  /** `redis://127.0.0.1:a,redis://127.0.0.1:b,...`: the comma-separated REDIS_URL form. */
  url: string;
  close(): Promise<void>;
}

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;
}

/**
 * A node's view of the cluster from CLUSTER NODES: each node id with its slots, sorted; null
 * while a link is down or a node is not known as a master with its slots yet.
 */
function slotMap(nodes: string): string | null {
  const lines = nodes
    .trim()
    .split('\n')
    .filter((line) => line !== '');
  if (lines.length !== 3) return null;
  const entries: string[] = [];
  for (const line of lines) {
    const [id, , flags, , , , , link, ...slots] = line.split(' ');
    if (link !== 'connected' || !flags?.includes('master') || slots.length === 0) return null;
    entries.push(`${id} ${slots.join(',')}`);
  }
  return entries.sort().join('; ');
}

/**
 * Three masters, no replicas, every slot assigned; resolves once the cluster has converged.
 * Started again on new ports when one was taken meanwhile.
 */
export function startRedisCluster(): Promise<RedisCluster> {
  return retryIfPortTaken(startRedisClusterOnce);
}

async function startRedisClusterOnce(): Promise<RedisCluster> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'keygate-redis-cluster-'));
  const servers = ports.map((port) =>
    startProcess(port, dir, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-node-timeout',
      '2000',
    ]),
  );
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((server) => kill(server.child, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [index, port] of ports.entries()) await waitForPing(port, servers[index]!);
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8' },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${create.stdout}${create.stderr}`);
    // Converged: every node says cluster_state:ok, sees every node's link up, and all of them
    // hold the same slot map (clients started right after must not meet MOVED or CLUSTERDOWN).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const states = ports.map((port) => cli(port, 'cluster', 'info'));
      const maps = ports.map((port) => slotMap(cli(port, 'cluster', 'nodes')));
      if (
        states.every((info) => info.includes('cluster_state:ok')) &&
        maps.every((map) => map !== null && map === maps[0])
      )
        break;
      if (Date.now() > deadline)
        throw new Error(`cluster not converged within 30 s:\n${states.join('\n')}\n${maps.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { ports, url: ports.map((port) => `redis://127.0.0.1:${port}`).join(','), close };
}
