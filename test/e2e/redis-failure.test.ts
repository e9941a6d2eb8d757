/**
 * Redis stopped mid-run (a redis-server this test starts on a free port, never the shared one):
 * no gateway crashes, requests keep flowing under per-process window limits, budgeted requests
 * are refused with 503 budget_unavailable, each gateway logs the outage once, and everything
 * goes back to the shared counters once Redis returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisAvailable, skipReason, startRedisServer, type RedisServer } from '../helpers/redis-servers.js';
import { seedOrg, startRedisStack, until, type RedisStack } from '../helpers/redis-stack.js';
import { uniquePrefix } from '../helpers/redis-targets.js';

if (!redisAvailable) console.warn(skipReason('Redis failure e2e'));

describe.skipIf(!redisAvailable)('two gateways when their Redis stops and returns', () => {
  let redis: RedisServer;
  let stack: RedisStack;

  beforeAll(async () => {
    redis = await startRedisServer();
    stack = await startRedisStack({ redisUrl: redis.url, prefix: uniquePrefix('failure'), gateways: 2 });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await redis?.close();
  });

  const codes = async (responses: Promise<Response>[]) =>
    Promise.all(
      responses.map(async (pending) => {
        const response = await pending;
        const body = (await response.json()) as any;
        return response.status === 200 ? 'ok' : `${response.status} ${body?.error?.code}`;
      }),
    );
  const count = (list: string[], value: string) => list.filter((entry) => entry === value).length;

  it('fails open to per-process windows, fails closed on budgets, logs once, and recovers', async () => {
    const data = await seedOrg(stack, 'failure');
    const limited = await data.createKey({ rpm_limit: 10 });
    const budgeted = await data.createKey({ max_budget: 10 });
    // Both keys loaded on both gateways while Redis is up; the shared window takes 4 of the 10.
    for (let g = 0; g < 2; g++) {
      expect((await stack.chat(limited.secret, data.model, { gateway: g })).status).toBe(200);
      expect((await stack.chat(limited.secret, data.model, { gateway: g })).status).toBe(200);
      expect((await stack.chat(budgeted.secret, data.model, { gateway: g })).status).toBe(200);
    }

    await redis.stop(true);
    const started = Date.now();
    const during = await codes(Array.from({ length: 40 }, () => stack.chat(limited.secret, data.model)));
    const elapsed = Date.now() - started;
    // Each gateway enforces rpm 10 on its own: 2 × 10 admitted, the rest refused by key_rpm.
    expect(count(during, 'ok')).toBe(20);
    expect(count(during, '429 rate_limit_exceeded')).toBe(20);
    // A dead Redis costs no waiting: 40 requests on a loaded machine, well under a timeout each.
    expect(elapsed).toBeLessThan(2000);
    for (let g = 0; g < 2; g++) {
      const response = await stack.chat(budgeted.secret, data.model, { gateway: g });
      expect(response.status).toBe(503);
      expect(((await response.json()) as any).error).toMatchObject({
        code: 'budget_unavailable',
        param: 'key_budget',
      });
      const metrics = await (await fetch(`${stack.gateways[g]!.url}/metrics`)).text();
      expect(metrics).toMatch(/keygate_gateway_redis_up 0/);
      expect(metrics).toMatch(/keygate_gateway_redis_fallback_admissions_total [1-9]/);
    }

    await redis.start();
    // Recovery is automatic: budgeted requests are admitted again on both gateways.
    for (let g = 0; g < 2; g++) {
      await until(
        async () => (await stack.chat(budgeted.secret, data.model, { gateway: g })).status === 200,
        10_000,
        `gateway ${g} back on Redis`,
      );
    }
    // The restarted Redis is empty: the shared window starts again, 10 across both gateways.
    const after = await codes(Array.from({ length: 30 }, () => stack.chat(limited.secret, data.model)));
    expect(count(after, 'ok')).toBe(10);
    for (const gateway of stack.gateways) {
      expect(gateway.child.exitCode).toBeNull();
      expect(gateway.output().match(/Redis unreachable/g)?.length).toBe(1);
    }
  });
});
