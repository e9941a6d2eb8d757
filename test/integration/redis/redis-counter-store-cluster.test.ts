/**
 * RedisCounterStore on a single Redis and on a 3-master Redis Cluster: every counter of a request
 * carries the org id as its hash tag, so the one Lua script of a request never crosses slots.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { RedisCounterStore } from '../../../src/ratelimit/redis-counter-store.js';
import { deploymentNames, noRedisMessage, uniquePrefix, useDeployment } from '../../helpers/redis-targets.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('RedisCounterStore on Redis and Redis Cluster'));

describe.skipIf(names.length === 0).each(names)('RedisCounterStore on %s Redis', (name) => {
  const { connect: client } = useDeployment(name);
  const prefix = uniquePrefix('counters');

  it('every counter of a request lands in the slot of its org hash tag', async () => {
    const redis = await client();
    const store = new RedisCounterStore({ redis, prefix });
    const charges = ['key:k1:rpm:0', 'team:t1:rpm:0', 'org:o1:rpm:0'].map((key) => ({
      key,
      amount: 1,
      limit: 5,
      ttlMs: 60_000,
    }));
    expect(await store.chargeAll(charges, 'org_tagged')).toEqual({ ok: true, values: [1, 1, 1] });
    const keys = charges.map((charge) => `${prefix}{org_tagged}:w:${charge.key}`);
    expect(await redis.mget(...keys)).toEqual(['1', '1', '1']);
    if (name === 'cluster') {
      const slots = await Promise.all(keys.map((key) => redis.call('CLUSTER', 'KEYSLOT', key)));
      expect(new Set(slots).size).toBe(1);
    }
    expect(
      await store.read(
        charges.map((charge) => charge.key),
        'org_tagged',
      ),
    ).toEqual([1, 1, 1]);
    await store.adjust('key:k1:rpm:0', -1, 60_000, 'org_tagged');
    expect(await store.read(['key:k1:rpm:0'], 'org_tagged')).toEqual([0]);
  });

  it('two gateways admit exactly 50 of 200 concurrent requests against a shared key/team/org limit, orgs spread over the shards', async () => {
    const clock = new ManualClock(MID_MORNING);
    const gateways = [
      new LimitsAdmission({ clock, store: new RedisCounterStore({ redis: await client(), prefix }) }),
      new LimitsAdmission({ clock, store: new RedisCounterStore({ redis: await client(), prefix }) }),
    ];
    // Several orgs so that, on the cluster, requests go to different masters.
    for (const org of ['org_a', 'org_b', 'org_c']) {
      const p = policy({
        keyId: `key_${org}`,
        teamId: `team_${org}`,
        orgId: org,
        key: { rpm: 80 },
        team: { rpm: 60 },
        org: { rpm: 50, tpm: 1_000_000 },
      });
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          gateways[i % 2]!.admit({
            policy: p,
            target: TARGET,
            estimatedInputTokens: 10,
            maxOutputTokens: 10,
          }),
        ),
      );
      expect(outcomes.filter((o) => o.ok)).toHaveLength(50);
      expect(outcomes.filter((o) => !o.ok && o.param === 'org_rpm')).toHaveLength(150);
      const usage = await gateways[1]!.windowUsage(p);
      expect(usage.map((u) => [u.param, u.used])).toEqual([
        ['key_rpm', 50],
        ['team_rpm', 50],
        ['org_rpm', 50],
        ['org_tpm', 1_000],
      ]);
    }
  });
});
