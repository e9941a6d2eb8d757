/**
 * A gateway killed with kill -9 while it holds budget reservations in Redis (issue 12): its
 * reservations are leased, so once its lease expires (RESERVATION_LEASE_TTL_MS after its last
 * refresh) the next admission on the scope frees them, even on a scope that a busy stream of
 * requests keeps touching. Before leases they stayed until the scope was idle for the upstream
 * timeout plus 60 s, so on a busy team they were held for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESERVATION_LEASE_TTL_MS } from '../../src/budget/reservation-leases.js';
import { expectStatus } from '../helpers/admin-api.js';
import { seedOrg, startRedisStack, until, type RedisStack } from '../helpers/redis-stack.js';
import {
  deploymentNames,
  noRedisMessage,
  startDeployment,
  uniquePrefix,
  type RedisDeployment,
} from '../helpers/redis-targets.js';

const name = deploymentNames().find((candidate) => candidate !== 'cluster');
if (name === undefined) console.warn(noRedisMessage('a gateway killed while holding reservations'));

/** Slack on the documented bound: a probe every 200 ms and a loaded machine. */
const SLACK_MS = 1500;

describe.skipIf(name === undefined)('a gateway killed while it holds budget reservations', () => {
  let deployment: RedisDeployment;
  let stack: RedisStack;

  beforeAll(async () => {
    deployment = await startDeployment(name!);
    stack = await startRedisStack({ redisUrl: deployment.url, prefix: uniquePrefix('lease'), gateways: 2 });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await deployment?.close();
  });

  it('its reservations are freed within the lease bound while a busy stream keeps touching the team', async () => {
    // $0.01 team budget; a request with max_tokens 2000 is estimated at ~4 000 micro-USD.
    const data = await seedOrg(stack, 'lease', { team: { max_budget: 0.01 } });
    const slow = expectStatus(
      await stack.api('POST', '/v1/targets', {
        name: 'lease-slow-model',
        upstream: {
          base_url: `${stack.mockUrl}/v1`,
          model: 'mock-slow-120000',
          api_key_env: 'E2E_PROVIDER_KEY',
        },
        pricing: { input_per_mtok: 1, output_per_mtok: 2 },
      }),
      201,
      'create slow target',
    );
    const a = await data.createKey();
    const b = await data.createKey();
    const [gatewayA] = stack.gateways;

    // Gateway A: two slow requests, each holding ~4 000 micro-USD of the team budget. A request
    // that ends at once was answered before the slow target reached A (404): send it again.
    for (let held = 0; held < 2;) {
      const pending = stack.chat(a.secret, slow.name, { gateway: 0, maxTokens: 2000 });
      pending.catch(() => {}); // A is killed below
      const early = await Promise.race([
        pending.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500)),
      ]);
      if (!early) held++;
    }
    // Gateway B sees them: a third one does not fit the team budget.
    const probe = async () => {
      const response = await stack.chat(b.secret, data.model, { gateway: 1, maxTokens: 2000 });
      const body = (await response.json()) as any;
      return { status: response.status, param: body?.error?.param as string | undefined };
    };
    await until(async () => (await probe()).param === 'team_budget', 5000, 'A’s reservations seen by B');

    await gatewayA!.stop('SIGKILL');
    const killedAt = Date.now();
    // A busy stream on B keeps touching the team scope (17 micro-USD each, well within budget).
    let busy = true;
    let streamed = 0;
    const stream = (async () => {
      while (busy) {
        const response = await stack.chat(b.secret, data.model, { gateway: 1, maxTokens: 8 });
        if (response.status === 200) streamed++;
        await response.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    let admittedAt = 0;
    try {
      await until(
        async () => {
          const answer = await probe();
          if (answer.status !== 200) {
            await new Promise((resolve) => setTimeout(resolve, 200));
            return false;
          }
          admittedAt = Date.now();
          return true;
        },
        RESERVATION_LEASE_TTL_MS + 10_000,
        'B admitting against the full team budget again',
      );
    } finally {
      busy = false;
      await stream;
    }
    expect(streamed).toBeGreaterThan(5);
    expect(admittedAt - killedAt).toBeLessThan(RESERVATION_LEASE_TTL_MS + SLACK_MS);
  }, 60_000);
});
