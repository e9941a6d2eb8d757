/**
 * A gateway killed with kill -9 while it holds budget reservations or parallel-cap slots in Redis
 * (issue 12, issue 14 item 3): both are leased, so once its lease expires
 * (RESERVATION_LEASE_TTL_MS after its last refresh) the next admission on the scope frees them,
 * even on a scope that a busy stream of requests keeps touching. Before leases reservations stayed
 * until the scope was idle for the upstream timeout plus 60 s, and in-flight slots until their
 * counter was left alone for a day, so on a busy team both were held for ever.
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
    stack = await startRedisStack({ redisUrl: deployment.url, prefix: uniquePrefix('lease'), gateways: 3 });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await deployment?.close();
  });

  it('its reservations are freed within the lease bound while a busy stream keeps touching the team', async () => {
    // $0.01 team budget; a request with max_tokens 2000 is estimated at ~4 000 micro-USD.
    const data = await seedOrg(stack, 'lease', { team: { max_budget: 0.01 } });
    const slow = await slowTarget('lease-slow-model');
    const a = await data.createKey();
    const b = await data.createKey();
    const gatewayA = stack.gateways[0]!;

    // Gateway A (0): two slow requests, each holding ~4 000 micro-USD of the team budget. A request
    // that ends at once was answered before the slow target reached A (404): send it again.
    for (let held = 0; held < 2;) {
      const pending = stack.chat(a.secret, slow.name, { gateway: 0, maxTokens: 2000 });
      pending.catch(() => {}); // A is killed below
      if (!(await endsWithin(pending, 500))) held++;
    }
    // Gateway B sees them: a third one does not fit the team budget.
    const probe = probeOn(1, b.secret, data.model, 2000);
    await until(async () => (await probe()).param === 'team_budget', 5000, 'A’s reservations seen by B');

    await gatewayA.stop('SIGKILL');
    const killedAt = Date.now();
    // A busy stream on B keeps touching the team scope (17 micro-USD each, well within budget).
    const busy = busyStream(() => stack.chat(b.secret, data.model, { gateway: 1, maxTokens: 8 }));
    let admittedAt: number;
    try {
      admittedAt = await admittedAgain(probe, 'B admitting against the full team budget again');
    } finally {
      expect(await busy.stop()).toBeGreaterThan(5);
    }
    expect(admittedAt - killedAt).toBeLessThan(RESERVATION_LEASE_TTL_MS + SLACK_MS);
  }, 60_000);

  it('its in-flight slots are freed within the lease bound: a key with max_parallel_requests 2 admits again on B', async () => {
    // Team cap 3: a busy stream of another key on B keeps charging the team counter meanwhile.
    const data = await seedOrg(stack, 'parallel', { team: { max_parallel_requests: 3 } });
    const slow = await slowTarget('parallel-slow-model');
    const held = await data.createKey({ max_parallel_requests: 2 });
    const other = await data.createKey();
    const gatewayA = stack.gateways[2]!;

    // Gateway A (2): two slow requests take both of the key's slots (a 404 from a gateway the
    // slow target has not reached yet holds none: send it again).
    for (let inFlight = 0; inFlight < 2;) {
      const pending = stack.chat(held.secret, slow.name, { gateway: 2 });
      pending.catch(() => {}); // A is killed below
      if (!(await endsWithin(pending, 500))) inFlight++;
    }
    const probe = probeOn(1, held.secret, data.model, 8);
    await until(async () => (await probe()).param === 'key_parallel', 5000, 'A’s slots seen by B');

    await gatewayA.stop('SIGKILL');
    const killedAt = Date.now();
    const busy = busyStream(() => stack.chat(other.secret, data.model, { gateway: 1, maxTokens: 8 }));
    let admittedAt: number;
    try {
      admittedAt = await admittedAgain(probe, 'B admitting the key with max_parallel_requests 2 again');
    } finally {
      expect(await busy.stop()).toBeGreaterThan(5);
    }
    expect(admittedAt - killedAt).toBeLessThan(RESERVATION_LEASE_TTL_MS + SLACK_MS);
    // Both slots are free again, not only one: two slow requests stay in flight on B, a third is refused.
    for (let i = 0; i < 2; i++) {
      const pending = stack.chat(held.secret, slow.name, { gateway: 1 });
      pending.catch(() => {}); // cut when the stack stops
      expect(await endsWithin(pending, 500)).toBe(false);
    }
    expect((await probe()).param).toBe('key_parallel');
  }, 60_000);

  /** A chat request on gateway `gateway`, answering its status and error param. */
  function probeOn(gateway: number, secret: string, model: string, maxTokens: number) {
    return async () => {
      const response = await stack.chat(secret, model, { gateway, maxTokens });
      const body = (await response.json()) as any;
      return { status: response.status, param: body?.error?.param as string | undefined };
    };
  }

  async function slowTarget(targetName: string) {
    return expectStatus(
      await stack.api('POST', '/v1/targets', {
        name: targetName,
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
  }
});

/** When `probe` first answers 200 (probing every 200 ms), within the lease bound plus 10 s. */
async function admittedAgain(probe: () => Promise<{ status: number }>, what: string): Promise<number> {
  let admittedAt = 0;
  await until(
    async () => {
      if ((await probe()).status === 200) {
        admittedAt = Date.now();
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      return false;
    },
    RESERVATION_LEASE_TTL_MS + 10_000,
    what,
  );
  return admittedAt;
}

/** Whether `pending` settles within `ms`. */
function endsWithin(pending: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    pending.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
  ]);
}

/** Requests sent one after another every 100 ms until `stop`, which answers how many got 200. */
function busyStream(send: () => Promise<Response>): { stop(): Promise<number> } {
  let busy = true;
  let ok = 0;
  const loop = (async () => {
    while (busy) {
      const response = await send();
      if (response.status === 200) ok++;
      await response.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      busy = false;
      await loop;
      return ok;
    },
  };
}
