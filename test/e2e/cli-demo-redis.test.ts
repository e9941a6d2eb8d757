/**
 * Attack finding (CLI trap): `keygate demo` inherited REDIS_URL and KEYGATE_REDIS_PREFIX from the
 * environment, so on a host configured for Redis mode the demo's admin and gateway joined the real
 * deployment's Redis: the demo gateway subscribed to the deployment's `<prefix>changes` channel and
 * the demo admin published its own change batches (seq 1, 2, …) there, where a young deployment's
 * gateways take them for their own (a claimed foreign seq makes the real change of that seq be
 * skipped). The demo is now self-contained: memory mode, one worker, nothing in that Redis.
 * Same for the usage spool (KEYGATE_SPOOL_DIR, default ./data/spool): the demo gateway took over
 * the spooled, unsent usage of the real (stopped) deployment, replayed it to the demo's admin
 * plane and deleted it; the demo now spools inside its own temporary directory.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryArgs, ROOT, freePort } from '../helpers/processes.js';
import { redisAvailable, skipReason, startRedisServer, type RedisServer } from '../helpers/redis-servers.js';

const PREFIX = 'demo-trap-test:';
let redis: RedisServer | undefined;
let output = '';
let child: ReturnType<typeof spawn> | undefined;
const dir = mkdtempSync(join(tmpdir(), 'keygate-demo-redis-'));
const spoolDir = join(dir, 'spool');
// A stopped deployment's unsent usage (the pid of a process that is gone).
const SEGMENT = 'usage-999999999-1-0.spool';
const SEGMENT_TEXT =
  '{"open":{"gatewayId":"gw_real","batchId":"b1","batchSeq":1}}\n' +
  '{"add":"b1","items":[["key_real","gpt",3,30,60,900,1700000000000]]}\n';

if (!redisAvailable) console.warn(skipReason('cli-demo-redis'));

beforeAll(async () => {
  if (!redisAvailable) return;
  redis = await startRedisServer();
  mkdirSync(spoolDir);
  writeFileSync(join(spoolDir, SEGMENT), SEGMENT_TEXT);
  child = spawn(process.execPath, [...entryArgs('bin/keygate.ts'), 'demo'], {
    cwd: ROOT,
    env: {
      ...process.env,
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_ADMIN_PORT: String(await freePort()),
      KEYGATE_GATEWAY_PORT: String(await freePort()),
      REDIS_URL: redis.url,
      KEYGATE_REDIS_PREFIX: PREFIX,
      KEYGATE_GATEWAY_WORKERS: '2',
      KEYGATE_SPOOL_DIR: spoolDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 45_000;
  while (!output.includes("-d '{") && Date.now() < deadline && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 120_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!redisAvailable)('keygate demo on a host configured for Redis mode', () => {
  it('starts and leaves the configured Redis alone (no subscription, no keys under the prefix)', async () => {
    expect(output, output).toContain("-d '{");
    const client = new Redis(redis!.url, { lazyConnect: true });
    await client.connect();
    try {
      const channels = (await client.call('PUBSUB', 'CHANNELS', `${PREFIX}*`)) as string[];
      expect(channels).toEqual([]);
      expect(await client.keys(`${PREFIX}*`)).toEqual([]);
    } finally {
      client.disconnect();
    }
  }, 30_000);

  it("leaves the deployment's usage spool alone (the segment stays, byte for byte)", () => {
    expect(output, output).toContain("-d '{");
    expect(readdirSync(spoolDir)).toEqual([SEGMENT]);
    expect(readFileSync(join(spoolDir, SEGMENT), 'utf8')).toBe(SEGMENT_TEXT);
  });
});
