/**
 * Three gateway processes behind one admin plane, sharing one Redis (the REDIS_URL one, or a
 * server of this run) and, separately, a 3-master Redis Cluster: limits, budgets and team limits
 * are exact across replicas, and a revoked key is refused by all three within 1 s with HTTP
 * pushes disabled (Redis pub/sub, change-feed pull as the backstop).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deploymentNames,
  noRedisMessage,
  startDeployment,
  uniquePrefix,
  type RedisDeployment,
} from '../helpers/redis-targets.js';
import { INTERNAL_SECRET, seedOrg, startRedisStack, until, type RedisStack } from '../helpers/redis-stack.js';
import { InternalTokens } from '../../src/invalidation/internal-token.js';
import { hashSecret } from '../../src/keys/secret.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('three gateways on Redis'));

describe.skipIf(names.length === 0).each(names)('three gateways on %s Redis', (name) => {
  let deployment: RedisDeployment;
  let stack: RedisStack;

  beforeAll(async () => {
    deployment = await startDeployment(name);
    stack = await startRedisStack({
      redisUrl: deployment.url,
      prefix: uniquePrefix('e2e'),
      gateways: 3,
      // A slow pull, so that the 1 s revocation bound is met by pub/sub.
      gatewayEnv: { KEYGATE_RESYNC_INTERVAL_MS: '3000', KEYGATE_AUTH_FAILURE_POINTS: '9' },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await deployment?.close();
  });

  const statuses = async (responses: Promise<Response>[]) => {
    const settled = await Promise.all(
      responses.map(async (pending) => {
        const response = await pending;
        const body = (await response.json()) as any;
        return {
          status: response.status,
          code: body?.error?.code as string | undefined,
          param: body?.error?.param,
        };
      }),
    );
    return {
      ok: settled.filter((r) => r.status === 200).length,
      refused: (code: string, param?: string) =>
        settled.filter((r) => r.code === code && (param === undefined || r.param === param)).length,
      all: settled,
    };
  };

  it('300 concurrent requests spread over three gateways against rpm_limit 100: exactly 100 admitted', async () => {
    const data = await seedOrg(stack, `rpm-${name}`);
    const { secret } = await data.createKey({ rpm_limit: 100 });
    const result = await statuses(Array.from({ length: 300 }, () => stack.chat(secret, data.model)));
    expect(result.ok).toBe(100);
    expect(result.refused('rate_limit_exceeded', 'key_rpm')).toBe(200);
  });

  it('team limits are shared: two keys of one team, 180 requests over three gateways against team rpm 60 → 60', async () => {
    const data = await seedOrg(stack, `team-${name}`, { team: { rpm_limit: 60 } });
    const [a, b] = [await data.createKey(), await data.createKey()];
    const result = await statuses(
      Array.from({ length: 180 }, (_, i) => stack.chat(i % 2 === 0 ? a.secret : b.secret, data.model)),
    );
    expect(result.ok).toBe(60);
    expect(result.refused('rate_limit_exceeded', 'team_rpm')).toBe(120);
  });

  it('a budget shared across replicas is never exceeded when requests set max_tokens', async () => {
    const data = await seedOrg(stack, `budget-${name}`);
    // Each request costs 17 micro-USD (1 input token at $1/Mtok + 8 output tokens at $2/Mtok) and
    // is estimated at the same with max_tokens 8: a budget of 1700 micro-USD fits 100 of them.
    const { key, secret } = await data.createKey({ max_budget: 0.0017 });
    const result = await statuses(
      Array.from({ length: 300 }, () => stack.chat(secret, data.model, { maxTokens: 8 })),
    );
    expect(result.ok).toBeLessThanOrEqual(100);
    expect(result.ok).toBeGreaterThan(0);
    expect(result.refused('budget_exceeded', 'key_budget')).toBe(300 - result.ok);
    // Every replica reported its usage: the persisted spend is what was admitted, within budget.
    let spend = 0;
    await until(
      async () => {
        spend = (await stack.api('GET', `/v1/keys/${key.id}`)).body.spend;
        return Math.round(spend * 1e6) === result.ok * 17;
      },
      5000,
      'usage reported',
    );
    expect(spend).toBeLessThanOrEqual(0.0017);
    // And the next request on any replica is refused once the budget is gone.
    if (result.ok === 100) {
      for (let g = 0; g < 3; g++) {
        const response = await stack.chat(secret, data.model, { gateway: g, maxTokens: 8 });
        expect(response.status).toBe(429);
      }
    }
  });

  it('explain on any gateway reads the shared counters: windows, parallel cap and period spend of all replicas', async () => {
    const data = await seedOrg(stack, `explain-${name}`);
    const { key, secret } = await data.createKey({
      rpm_limit: 50,
      max_parallel_requests: 3,
      max_budget: 1,
      budget_period: 'day',
    });
    // Four requests on gateways 0 and 1, 17 micro-USD each (see the budget test). The new target
    // reaches the gateways over pub/sub; until then a 404 (unknown model) charges nothing.
    for (let i = 0; i < 4; i++) {
      let status = 0;
      await until(
        async () => {
          const response = await stack.chat(secret, data.model, { gateway: i % 2, maxTokens: 8 });
          await response.arrayBuffer();
          status = response.status;
          return status !== 404;
        },
        3000,
        'the target known to the gateway',
      );
      expect(status).toBe(200);
    }
    const tokens = new InternalTokens(INTERNAL_SECRET);
    let answer: { status: number; body: any } = { status: 0, body: undefined };
    await until(
      async () => {
        // Gateway 2 served none of them.
        const response = await fetch(
          `${stack.gateways[2]!.url}/internal/explain?token_hash=${hashSecret(secret)}`,
          { headers: { authorization: await tokens.authorizationHeader() } },
        );
        answer = { status: response.status, body: await response.json() };
        return answer.status === 200 && answer.body.budgets[0]?.spend_micros === 68;
      },
      5000,
      'the shared counters on gateway 2',
    );
    expect(answer.body.windows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ param: 'key_rpm', limit: 50, used: 4 }),
        expect.objectContaining({ param: 'key_parallel', limit: 3, used: 0 }),
      ]),
    );
    expect(answer.body.budgets[0]).toEqual({ scope: 'key', spend_micros: 68, reserved_micros: 0 });
    expect(answer.body.shared).toBe(true);
    // The admin plane reads the same shared counters from Redis (no gateway is listed to it).
    const viaAdmin = (await stack.api('GET', `/v1/keys/${key.id}/explain?model=${data.model}`)).body;
    expect(viaAdmin.gateways).toEqual([{ gateway: 'redis', ok: true }]);
    expect(viaAdmin.checks.find((check: any) => check.param === 'key_rpm')).toMatchObject({ used: 4 });
    expect(viaAdmin.checks.find((check: any) => check.param === 'key_parallel')).toMatchObject({
      in_flight: 0,
    });
    expect(viaAdmin.checks.find((check: any) => check.param === 'key_budget')).toMatchObject({
      spent: 0.000068,
      reserved: 0,
      period: 'day',
    });
  });

  it('a key revoked while traffic runs on all three gateways is refused by all three within 1 s (pushes disabled)', async () => {
    const data = await seedOrg(stack, `revoke-${name}`);
    const { key, secret } = await data.createKey();
    // The new target reaches the gateways over pub/sub; until then a 404 (unknown model).
    for (let g = 0; g < 3; g++) {
      let status = 0;
      await until(
        async () => {
          const response = await stack.chat(secret, data.model, { gateway: g });
          await response.arrayBuffer();
          status = response.status;
          return status !== 404;
        },
        3000,
        'the target known to the gateway',
      );
      expect(status).toBe(200);
    }
    const refusedAt: (number | undefined)[] = [undefined, undefined, undefined];
    let revokedAt = Infinity;
    let running = true;
    const traffic = [0, 1, 2].map(async (g) => {
      while (running && refusedAt[g] === undefined) {
        const response = await stack.chat(secret, data.model, { gateway: g });
        const body = (await response.json()) as any;
        if (body?.error?.code === 'key_revoked' && Date.now() >= revokedAt) refusedAt[g] = Date.now();
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    revokedAt = Date.now();
    expect((await stack.api('POST', `/v1/keys/${key.id}/revoke`)).status).toBe(200);
    await until(
      async () => refusedAt.every((at) => at !== undefined),
      3000,
      'revocation on all three',
    ).finally(() => (running = false));
    await Promise.all(traffic);
    const lags = refusedAt.map((at) => at! - revokedAt);
    expect(Math.max(...lags)).toBeLessThan(1000);
  });
  // Last: it blocks this client's address on every gateway. On the cluster too: the runs that
  // looked per-process were two consumes reaching Redis swapped while the gateway still counted
  // failures off the reply path (it now counts each before answering, gateway/decide.ts).
  it('failed authentications of one address are counted across the three gateways (9 allowed in all)', async () => {
    const data = await seedOrg(stack, `auth-${name}`);
    const codes: string[] = [];
    for (let i = 0; i < 15; i++) {
      const response = await stack.chat('sk-not-a-keygate-key', data.model, { gateway: i % 3 });
      codes.push(((await response.json()) as any).error?.code);
    }
    // Per process each gateway would have allowed 9 of its 5: no block at all. Shared, the
    // 10th, 11th and 12th failures are refused by the store (each gateway learns the block at
    // its own refused failure), and every later request is refused before any lookup.
    expect(codes).toEqual([
      ...Array<string>(12).fill('invalid_api_key'),
      ...Array<string>(3).fill('too_many_auth_failures'),
    ]);
  });
});
