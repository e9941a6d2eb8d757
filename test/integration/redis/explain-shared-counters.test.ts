/**
 * The admin's explain in Redis mode: every listed gateway answers /internal/explain with the same
 * shared counters (`shared: true`), so their reservations are one figure, not one per gateway,
 * while per-gateway answers (memory mode) still add up. The gateways here are two answer sources
 * standing in for two Redis-mode gateways (the gateway side is tested in
 * test/e2e/redis-scale-out.test.ts); what is tested is the admin's combination of them.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { GatewayAnswer, GatewayCounters } from '../../../admin/keys/gateway-counters.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

const NOW = Date.UTC(2026, 5, 2, 9, 0, 10);
let w: KeysWorld;

beforeEach(async () => {
  w = await keysWorld();
  w.admin.clock.set(NOW);
  w.seed.target('plain');
});

/** Two gateways answering `counters` for every key. */
function twoGateways(counters: GatewayCounters): void {
  w.admin.deps.gatewayCounters = {
    counters: async (): Promise<GatewayAnswer[]> => [
      { gateway: 'http://gw-1', ok: true, counters },
      { gateway: 'http://gw-2', ok: true, counters },
    ],
  };
}

async function budgetCheck(): Promise<any> {
  const created = await w.createKey({ name: 'k', team_id: w.teamA1, max_budget: 10, budget_period: 'day' });
  expect(created.status).toBe(201);
  const body = (await w.admin.call('GET', `/v1/keys/${created.body.key.id}/explain?model=plain`)).body;
  return body.checks.find((check: { check: string }) => check.check === 'budget');
}

const counters = (shared: boolean): GatewayCounters => ({
  windows: [],
  budgets: [{ scope: 'key', spend_micros: 2_000_000, reserved_micros: 1_000_000 }],
  ...(shared ? { shared: true } : {}),
});

describe('explain over Redis-mode gateways', () => {
  it('shared reservations are counted once, however many gateways report them', async () => {
    twoGateways(counters(true));
    expect(await budgetCheck()).toMatchObject({ param: 'key_budget', spent: 2, reserved: 1, remaining: 7 });
  });

  it('per-gateway reservations (memory mode) still add up', async () => {
    twoGateways(counters(false));
    expect(await budgetCheck()).toMatchObject({ param: 'key_budget', spent: 2, reserved: 2, remaining: 6 });
  });
});
