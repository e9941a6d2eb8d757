/**
 * Shadow budgets in Redis mode (issue 14 item 8 with issue 12): a budget in shadow mode is
 * reported against the same shared view an enforced one is decided on, the reservations and the
 * settled spend of every replica, and it still never refuses.
 */
import { describe, expect, it } from 'vitest';
import { RedisSpendStore } from '../../../src/budget/redis-spend-store.js';
import { ManualClock } from '../../../src/clock.js';
import { SHADOW_BITS } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { RedisCounterStore } from '../../../src/ratelimit/redis-counter-store.js';
import { deploymentNames, noRedisMessage, uniquePrefix, useDeployment } from '../../helpers/redis-targets.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('shadow budgets on Redis'));

describe.skipIf(names.length === 0).each(names)('shadow budgets on %s Redis', (name) => {
  const { connect } = useDeployment(name);
  const prefix = uniquePrefix('shadow');

  const replica = async () => {
    const redis = await connect();
    return new LimitsAdmission({
      clock: new ManualClock(MID_MORNING),
      store: new RedisCounterStore({ redis, prefix }),
      spend: new RedisSpendStore({ redis, prefix, reservationTtlMs: 60_000 }),
    });
  };
  // 100 input tokens at $1/M + 150 output tokens at $4/M: 700 micro-USD.
  const request = (p: ReturnType<typeof policy>) => ({
    policy: p,
    target: TARGET,
    estimatedInputTokens: 100,
    maxOutputTokens: 150,
  });

  it('another replica’s reservation and settled spend count against a shadow budget, which never refuses', async () => {
    const [a, b] = [await replica(), await replica()];
    const p = policy({
      keyId: `key_shadow_${name}`,
      orgId: `org_shadow_${name}`,
      key: { maxBudgetMicros: 1000, shadow: SHADOW_BITS.budget },
    });
    const held = await a.admit(request(p));
    expect(held.ok && held.shadowRefused).toBeUndefined();
    // B: 700 held by A + 700 > 1000, reported and admitted.
    const over = await b.admit(request(p));
    expect(over).toMatchObject({ ok: true, shadowRefused: ['key_budget'] });
    if (!held.ok || !over.ok) throw new Error('expected admissions');
    await b.release(over.ticket);
    // A settles 700: spent, no longer reserved; B still reports the next 700 as over.
    await a.settle(held.ticket, { inputTokens: 100, outputTokens: 150 });
    const after = await b.admit(request(p));
    expect(after).toMatchObject({ ok: true, shadowRefused: ['key_budget'] });
  });
});
