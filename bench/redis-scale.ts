/**
 * Scale-out figures (issue 12), a short standalone run: `node --import tsx bench/redis-scale.ts
 * [--duration S] [--connections C]`. Starts its own redis-server on a free port, the mock
 * upstream, one admin plane and gateways (TypeScript through tsx), then measures in paired,
 * interleaved rounds (bench/load.ts `measureInterleaved`), so machine noise hits both sides alike:
 * 1. hot key, memory mode vs Redis mode (one gateway each; the key carries rpm + tpm limits, so
 *    every request charges and settles its windows in the store);
 * 2. three Redis-mode replicas together vs one (the same connections split over three);
 * 3. one gateway with KEYGATE_GATEWAY_WORKERS=2 vs one process.
 * Prints a Markdown table for bench/README.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureInterleaved, mergeResults, runLoad, type LoadResult, type LoadSpec } from './load.js';
import { freePort } from './processes.js';

const MASTER = 'bench-redis-master-key-0123456789';
const SECRET = 'bench-redis-internal-secret-0123456789abcdef';
const argValue = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const durationS = argValue('--duration', 12);
const connections = argValue('--connections', 32);
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-redis-'));

async function up(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${url} not up`);
}

async function node(
  entry: string,
  env: Record<string, string>,
  url: string,
  args: string[] = [],
): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    env: { ...process.env, KEYGATE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  await up(url);
}

async function main(): Promise<void> {
  const redisPort = await freePort();
  children.push(
    spawn('redis-server', ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    }),
  );
  for (
    let i = 0;
    spawnSync('redis-cli', ['-p', String(redisPort), 'ping'])
      .stdout?.toString()
      .trim() !== 'PONG';
    i++
  ) {
    if (i > 200) throw new Error('redis-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const redisEnv = { REDIS_URL: `redis://127.0.0.1:${redisPort}`, KEYGATE_REDIS_PREFIX: 'bench:' };
  const mockPort = await freePort();
  const mock = `http://127.0.0.1:${mockPort}`;
  await node('bench/mock-upstream.ts', {}, mock, ['--port', String(mockPort)]);
  const adminPort = await freePort();
  const admin = `http://127.0.0.1:${adminPort}`;
  await node(
    'admin/main.ts',
    {
      ...redisEnv,
      KEYGATE_DB_PATH: join(dir, 'bench.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_MASTER_KEY: MASTER,
      KEYGATE_INTERNAL_SECRET: SECRET,
      KEYGATE_GATEWAY_URLS: '',
    },
    admin,
  );
  const gateway = async (env: Record<string, string>): Promise<string> => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await node(
      'gateway/main.ts',
      {
        KEYGATE_GATEWAY_PORT: String(port),
        KEYGATE_ADMIN_URL: admin,
        KEYGATE_INTERNAL_SECRET: SECRET,
        ...env,
      },
      `${url}/healthz`,
    );
    return url;
  };
  const memory = await gateway({});
  const replicas = [await gateway(redisEnv), await gateway(redisEnv), await gateway(redisEnv)];
  const workers = await gateway({ ...redisEnv, KEYGATE_GATEWAY_WORKERS: '2' });

  const api = async (path: string, body: unknown): Promise<{ id: string; secret: string }> => {
    const response = await fetch(`${admin}/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: string; secret: string };
  };
  const org = await api('/orgs', { name: 'bench-org' });
  const team = await api('/teams', { org_id: org.id, name: 'bench-team' });
  await api('/targets', { name: 'bench-model', upstream: { base_url: `${mock}/v1` } });
  const key = await api('/keys', {
    name: 'hot',
    team_id: team.id,
    owner: { type: 'service_account', create: { name: 'bench-svc' } },
    rpm_limit: 1_000_000_000,
    tpm_limit: 1_000_000_000_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the target reaches every gateway

  const spec = (origin: string, conns = connections): LoadSpec => ({
    origin,
    path: '/v1/chat/completions',
    method: 'POST',
    body: JSON.stringify({
      model: 'bench-model',
      messages: [{ role: 'user', content: 'hello bench' }],
      max_tokens: 16,
    }),
    headers: { authorization: `Bearer ${key.secret}` },
    connections: conns,
    durationS,
    expectedStatus: 200,
  });
  const rounds = 4;
  const warm = 2;
  const rows: string[] = [];
  const row = (what: string, a: LoadResult, b: LoadResult, aName: string, bName: string): void => {
    rows.push(
      `| ${what} | ${aName} ${a.rps.toFixed(0)} rps (p50 ${(a.latency.p50Ms ?? 0).toFixed(2)} ms, ${a.errors} errors) | ` +
        `${bName} ${b.rps.toFixed(0)} rps (p50 ${(b.latency.p50Ms ?? 0).toFixed(2)} ms, ${b.errors} errors) | ${(b.rps / a.rps).toFixed(2)}× |`,
    );
    console.log(rows.at(-1));
  };

  const [mem, red] = await measureInterleaved([spec(memory), spec(replicas[0]!)], warm, durationS, rounds);
  row('hot key (rpm + tpm limits), one gateway', mem!, red!, 'memory', 'Redis');

  // Three replicas at once vs one, same total connections, interleaved rounds.
  const split = Math.max(1, Math.round(connections / 3));
  const one: LoadResult[] = [];
  const three: LoadResult[] = [];
  for (let round = 0; round < rounds; round++) {
    const runOne = async () =>
      one.push(await runLoad({ ...spec(replicas[0]!), durationS: durationS / rounds }));
    const runThree = async () => {
      const parts = await Promise.all(
        replicas.map((url) => runLoad({ ...spec(url, split), durationS: durationS / rounds })),
      );
      const merged = mergeResults(parts);
      three.push({ ...merged, durationS: durationS / rounds, rps: merged.requests / (durationS / rounds) });
    };
    if (round % 2 === 0) {
      await runOne();
      await runThree();
    } else {
      await runThree();
      await runOne();
    }
  }
  const total = (parts: LoadResult[]): LoadResult => {
    const merged = mergeResults(parts);
    const seconds = parts.reduce((sum, part) => sum + part.durationS, 0);
    return { ...merged, durationS: seconds, rps: merged.requests / seconds };
  };
  row('Redis mode, combined throughput', total(one), total(three), '1 replica', '3 replicas');

  const [single, two] = await measureInterleaved(
    [spec(replicas[0]!), spec(workers)],
    warm,
    durationS,
    rounds,
  );
  row('Redis mode, one port', single!, two!, '1 process', '2 workers');

  console.log('\n| scenario | baseline | compared | ratio |\n| --- | --- | --- | --- |');
  for (const line of rows) console.log(line);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGTERM');
    setTimeout(() => {
      for (const child of children) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      process.exit();
    }, 1500);
  });
