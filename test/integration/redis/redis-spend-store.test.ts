/**
 * RedisSpendStore on a single Redis and on a 3-master Redis Cluster: integer micro-USD spend and
 * reservations shared by replicas, reserve-if-fits all-or-nothing over key, team and org in one
 * script, seeded from the persisted spend, with TTLs on every key.
 */
import { describe, expect, it } from 'vitest';
import { RedisSpendStore, SPEND_TTL_MS } from '../../../src/budget/redis-spend-store.js';
import type { RedisClient } from '../../../src/ratelimit/redis-connection.js';
import { deploymentNames, noRedisMessage, uniquePrefix, useDeployment } from '../../helpers/redis-targets.js';
import { policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('RedisSpendStore'));

describe.skipIf(names.length === 0).each(names)('RedisSpendStore on %s Redis', (name) => {
  const { connect } = useDeployment(name);
  let run = 0;
  const prefix = uniquePrefix('spend');

  const newStore = async (): Promise<{ store: RedisSpendStore; redis: RedisClient }> => {
    const redis = await connect();
    return { store: new RedisSpendStore({ redis, prefix, reservationTtlMs: 60_000 }), redis };
  };
  /** Ids unique per test, so tests never share counters. */
  const ids = () => {
    run++;
    return { keyId: `key_${run}`, teamId: `team_${run}`, orgId: `org_${run}` };
  };

  it('reserves on every budgeted scope or on none, naming the first scope that does not fit', async () => {
    const { store } = await newStore();
    const p = policy({ ...ids(), key: { maxBudgetMicros: 1_000 }, org: { maxBudgetMicros: 300 } });
    const first = await store.reserve(p, 200);
    expect(first.ok).toBe(true);
    expect(await store.reserve(p, 200)).toEqual({ ok: false, scope: 'org' });
    expect(await store.spendOf('key', p.key.id)).toEqual({ spendMicros: 0, reservedMicros: 200 });
    expect(await store.spendOf('org', p.org.id)).toEqual({ spendMicros: 0, reservedMicros: 200 });
    if (first.ok) await store.settle(first.reservation, 150);
    expect(await store.spendOf('org', p.org.id)).toEqual({ spendMicros: 150, reservedMicros: 0 });
    expect(await store.reserve(p, 151)).toEqual({ ok: false, scope: 'org' });
    expect((await store.reserve(p, 150)).ok).toBe(true);
  });

  it('two replicas never reserve past a shared budget: exactly 50 of 120 concurrent reservations of 10 fit 500', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = policy({ ...ids(), team: { maxBudgetMicros: 500 } });
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? a : b).store.reserve(p, 10)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    expect(results.filter((r) => !r.ok && r.scope === 'team')).toHaveLength(70);
    // Settling at a real cost within the estimate keeps the total within the budget.
    await Promise.all(
      results.map((r, i) => (r.ok ? (i % 2 === 0 ? a : b).store.settle(r.reservation, 7) : null)),
    );
    expect(await a.store.spendOf('team', p.team.id)).toEqual({ spendMicros: 350, reservedMicros: 0 });
  });

  it('starts from the persisted spend and never goes below a newer persisted figure', async () => {
    const { store } = await newStore();
    const base = ids();
    const p = policy({ ...base, key: { maxBudgetMicros: 1_000 }, spend: { key: 950 } });
    expect(await store.reserve(p, 60)).toEqual({ ok: false, scope: 'key' });
    const fit = await store.reserve(p, 50);
    expect(fit.ok).toBe(true);
    if (fit.ok) await store.release(fit.reservation);
    // Another replica's usage report landed: the persisted spend now says 990.
    const later = policy({ ...base, key: { maxBudgetMicros: 1_000 }, spend: { key: 990 } });
    expect(await store.reserve(later, 11)).toEqual({ ok: false, scope: 'key' });
    // An older cached policy cannot lower it again.
    expect(await store.reserve(p, 11)).toEqual({ ok: false, scope: 'key' });
    expect(await store.spendOf('key', p.key.id)).toEqual({ spendMicros: 990, reservedMicros: 0 });
  });

  it('ends a reservation once; release hands it back; nothing is kept without a TTL', async () => {
    const { store, redis } = await newStore();
    const p = policy({ ...ids(), key: { maxBudgetMicros: 100 } });
    const r = await store.reserve(p, 100);
    if (!r.ok) throw new Error('expected a reservation');
    const spendKey = `${prefix}{${p.org.id}}:s:key:${p.key.id}`;
    const reservedKey = `${prefix}{${p.org.id}}:rl:key:${p.key.id}`;
    expect(await redis.pttl(reservedKey)).toBeGreaterThan(50_000);
    await store.release(r.reservation);
    await store.release(r.reservation);
    await store.settle(r.reservation, 100);
    expect(await store.spendOf('key', p.key.id)).toEqual({ spendMicros: 0, reservedMicros: 0 });
    expect(await redis.exists(reservedKey)).toBe(0);
    expect(await redis.exists(spendKey)).toBe(0);
    const s = await store.reserve(p, 50);
    if (!s.ok) throw new Error('expected a reservation');
    await store.settle(s.reservation, 40);
    await store.settle(s.reservation, 40);
    expect(await store.spendOf('key', p.key.id)).toEqual({ spendMicros: 40, reservedMicros: 0 });
    const ttl = await redis.pttl(spendKey);
    expect(ttl).toBeGreaterThan(SPEND_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(SPEND_TTL_MS);
  });

  it('a reservation of 0 micro-USD (a free model) settles and releases (the property test found "-0")', async () => {
    const { store } = await newStore();
    const p = policy({ ...ids(), key: { maxBudgetMicros: 0 } });
    const paid = policy({ ...ids(), key: { maxBudgetMicros: 1_000 } });
    const held = await store.reserve(paid, 300);
    const free = await store.reserve(paid, 0);
    if (!held.ok || !free.ok) throw new Error('expected reservations');
    await store.settle(free.reservation, 0);
    // The free one's end leaves this process's other reservation on the scope alone.
    expect(await store.spendOf('key', paid.key.id)).toEqual({ spendMicros: 0, reservedMicros: 300 });
    await store.release(held.reservation);
    const zero = await store.reserve(p, 0);
    if (!zero.ok) throw new Error('expected a reservation');
    await store.settle(zero.reservation, 0);
    const again = await store.reserve(p, 0);
    if (!again.ok) throw new Error('expected a reservation');
    await store.release(again.reservation);
    expect(await store.spendOf('key', p.key.id)).toEqual({ spendMicros: 0, reservedMicros: 0 });
  });

  it('a request without any budget costs no Redis call and leaves no key', async () => {
    const { store, redis } = await newStore();
    const p = policy(ids());
    const r = store.reserve(p, 10);
    expect(r).toMatchObject({ ok: true }); // answered synchronously: no round trip
    if ('reservation' in r) await store.settle(r.reservation, 10);
    expect(await redis.exists(`${prefix}{${p.org.id}}:s:key:${p.key.id}`)).toBe(0);
  });
});
