/**
 * `KEYGATE_GATEWAY_WORKERS=2`: two node:cluster workers on one port charge the same Redis
 * counters, so limits stay exact across them; without REDIS_URL the start fails with the
 * documented message.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryArgs, ROOT } from '../helpers/processes.js';
import { seedOrg, startRedisStack, until, type RedisStack } from '../helpers/redis-stack.js';
import {
  deploymentNames,
  noRedisMessage,
  startDeployment,
  uniquePrefix,
  type RedisDeployment,
} from '../helpers/redis-targets.js';

describe('keygate gateway started on its own (split deployment)', () => {
  it('refuses to start without KEYGATE_INTERNAL_SECRET, saying where it comes from', () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.KEYGATE_INTERNAL_SECRET;
    delete env.KEYGATE_GATEWAY_WORKERS;
    const result = spawnSync(process.execPath, [...entryArgs('bin/keygate.ts'), 'gateway'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('KEYGATE_INTERNAL_SECRET is required to run a gateway');
    expect(result.stderr).toContain('same value as the admin plane');
  });
});

describe('keygate gateway --workers without REDIS_URL', () => {
  it('refuses to start with the documented message', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KEYGATE_INTERNAL_SECRET: 'x'.repeat(32) };
    delete env.REDIS_URL;
    const result = spawnSync(
      process.execPath,
      [...entryArgs('bin/keygate.ts'), 'gateway', '--workers', '2'],
      {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('KEYGATE_GATEWAY_WORKERS=2 needs REDIS_URL');
  });
});

const names = deploymentNames().filter((name) => name !== 'cluster');
if (names.length === 0) console.warn(noRedisMessage('gateway workers on Redis'));

describe.skipIf(names.length === 0)('KEYGATE_GATEWAY_WORKERS=2 on Redis', () => {
  let deployment: RedisDeployment;
  let stack: RedisStack;

  beforeAll(async () => {
    deployment = await startDeployment(names[0]!);
    stack = await startRedisStack({
      redisUrl: deployment.url,
      prefix: uniquePrefix('workers'),
      gateways: 1,
      gatewayEnv: { KEYGATE_GATEWAY_WORKERS: '2' },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await deployment?.close();
  });

  it('two workers serve one port and admit exactly 50 of 150 concurrent requests against rpm 50', async () => {
    const url = stack.gateways[0]!.url;
    const workers = new Set<number>();
    await until(
      async () => {
        const state = (await (
          await fetch(`${url}/readyz`, { headers: { connection: 'close' } })
        ).json()) as any;
        if (state.redis?.subscribed === true) workers.add(state.worker);
        return workers.size === 2;
      },
      20_000,
      'both workers live',
    );
    const data = await seedOrg(stack, 'workers');
    const { secret } = await data.createKey({ rpm_limit: 50 });
    const responses = await Promise.all(Array.from({ length: 150 }, () => stack.chat(secret, data.model)));
    const statuses = responses.map((response) => response.status);
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    expect(statuses.filter((status) => status === 200)).toHaveLength(50);
    expect(statuses.filter((status) => status === 429)).toHaveLength(100);
  });
});
