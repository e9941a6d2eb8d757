/**
 * GET /v1/keys/{id}/explain (issue 14 item 7): the admin plane answers every hot-path check in
 * order with the live counters of a real gateway (over its /internal/explain), and the param it
 * names is the one the gateway's refusal carries.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpGatewayCounters } from '../../../admin/keys/gateway-counters.js';
import { resolveKeyPolicy } from '../../../admin/internal/resolve-key-policy.js';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';
import { refusalOf, startPolicyGateway, type PolicyGateway } from './policy-gateway.js';

const NOW = Date.UTC(2026, 5, 2, 9, 0, 10);
let w: KeysWorld;
let g: PolicyGateway;

beforeEach(async () => {
  w = await keysWorld();
  w.admin.clock.set(NOW);
  w.seed.target('plain');
  g = await startPolicyGateway(NOW, TEST_INTERNAL_SECRET);
  w.admin.deps.gatewayCounters = new HttpGatewayCounters(
    [g.url, 'http://127.0.0.1:9'],
    w.admin.deps.internalTokens,
  );
});
afterEach(() => g.close());

/** A key created on the admin plane and known to the gateway as the admin resolves it. */
async function key(body: Record<string, unknown>) {
  const created = await w.createKey({ name: 'k', team_id: w.teamA1, ...body });
  expect(created.status).toBe(201);
  const policy = resolveKeyPolicy(w.admin.deps.db, created.body.key.token_hash, undefined, NOW)!;
  g.source.policies.set(policy.tokenHash, policy);
  return { id: created.body.key.id as string, secret: created.body.secret as string };
}

const explain = async (id: string, model = 'plain') =>
  (await w.admin.call('GET', `/v1/keys/${id}/explain?model=${model}`)).body;

describe('explain', () => {
  it('reports every check in order with the gateway live window counts; its param is the gateway refusal param', async () => {
    const k = await key({ rpm_limit: 2, max_budget: 10, budget_period: 'month' });
    expect((await g.call(k.secret)).status).toBe(200);
    let body = await explain(k.id);
    expect(body.verdict).toBe('admit');
    expect(body.checks.map((check: { check: string }) => check.check)).toEqual([
      'status',
      'expiry',
      'target_exists',
      'allowed',
      'budget',
      'window',
    ]);
    expect(body.checks[5]).toMatchObject({
      param: 'key_rpm',
      limit: 2,
      used: 1,
      remaining: 1,
      verdict: 'pass',
    });
    expect(body.checks[4]).toMatchObject({
      param: 'key_budget',
      period: 'month',
      period_resets_at: '2026-07-01T00:00:00.000Z',
    });
    expect(body.gateways).toEqual([
      { gateway: g.url, ok: true },
      expect.objectContaining({ gateway: 'http://127.0.0.1:9', ok: false }),
    ]);
    expect((await g.call(k.secret)).status).toBe(200);
    body = await explain(k.id);
    expect(body.refused_by).toEqual({ check: 'window', code: 'rate_limit_exceeded', param: 'key_rpm' });
    expect(await refusalOf(await g.call(k.secret))).toMatchObject({
      status: 429,
      param: body.refused_by.param,
    });
  });

  it('names the binding a model is allowed through, and the one refusing it', async () => {
    const k = await key({ access: { mode: 'restrict', targets: ['gpt-4o-mini'] } });
    const allowed = (await explain(k.id, 'gpt-4o-mini')).checks[3];
    expect(allowed.verdict).toBe('pass');
    expect(allowed.bindings).toEqual([
      expect.objectContaining({ scope: 'org', via: 'all' }),
      expect.objectContaining({ scope: 'team', via: 'inherit' }),
      expect.objectContaining({ scope: 'key', via: 'target', allows: true }),
    ]);
    const refused = await explain(k.id, 'plain');
    expect(refused.refused_by).toEqual({ check: 'allowed', code: 'model_not_allowed', param: 'model' });
    expect((await explain(k.id, 'nope')).refused_by).toMatchObject({
      check: 'target_exists',
      code: 'model_not_found',
    });
  });

  it('a blocked key fails the status check with key_blocked; a shadow limit never fails the verdict', async () => {
    const k = await key({ rpm_limit: { value: 1, mode: 'shadow' } });
    await g.call(k.secret);
    const shadow = await explain(k.id);
    expect(shadow.verdict).toBe('admit');
    expect(shadow.checks.at(-1)).toMatchObject({ param: 'key_rpm', mode: 'shadow', verdict: 'shadow_fail' });
    await w.admin.call('POST', `/v1/keys/${k.id}/block`);
    expect((await explain(k.id)).refused_by).toMatchObject({ check: 'status', code: 'key_blocked' });
  });
});
