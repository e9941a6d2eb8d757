/**
 * RedisCounterStore against a real Redis (REDIS_URL, e.g. redis://127.0.0.1:6379); skipped when
 * REDIS_URL is unset. Every run uses its own key prefix and deletes it afterwards.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { CounterCharge } from '../../../src/ratelimit/counter-store.js';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { MemoryCounterStore } from '../../../src/ratelimit/memory-counter-store.js';
import { RedisCounterStore } from '../../../src/ratelimit/redis-counter-store.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

const REDIS_URL = process.env.REDIS_URL;

describe.skipIf(REDIS_URL === undefined)('RedisCounterStore (real Redis)', () => {
  const prefix = `keygate-test:${process.pid}:${Date.now()}:`;
  let redis: Redis;
  let other: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL!, { lazyConnect: false, maxRetriesPerRequest: 1 });
    other = new Redis(REDIS_URL!, { lazyConnect: false, maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    other.disconnect();
  });

  const charge = (key: string, amount: number, limit: number): CounterCharge => ({
    key,
    amount,
    limit,
    ttlMs: 60_000,
  });

  it('charges every window or none', async () => {
    const store = new RedisCounterStore({ redis, prefix });
    expect(await store.chargeAll([charge('a', 2, 3), charge('b', 5, 5)])).toEqual({
      ok: true,
      values: [2, 5],
    });
    expect(await store.chargeAll([charge('a', 1, 3), charge('b', 1, 5)])).toEqual({
      ok: false,
      values: [2, 5],
    });
    expect(await store.read(['a', 'b', 'missing'])).toEqual([2, 5, 0]);
    expect(await redis.pttl(`${prefix}w:a`)).toBeGreaterThan(50_000);
  });

  it('adjust never goes below zero and drops refunds to counters that no longer exist', async () => {
    const store = new RedisCounterStore({ redis, prefix });
    await store.chargeAll([charge('c', 4, 10)]);
    await store.adjust('c', -10, 60_000);
    await store.adjust('gone', -3, 60_000);
    await store.adjust('new', 7, 60_000);
    expect(await store.read(['c', 'gone', 'new'])).toEqual([0, 0, 7]);
    expect(await redis.exists(`${prefix}w:gone`)).toBe(0);
  });

  it('two gateways sharing Redis admit exactly 50 of 200 concurrent requests against rpm 50', async () => {
    const clock = new ManualClock(MID_MORNING);
    const p = policy({ keyId: 'key_burst', key: { rpm: 50, tpm: 1_000_000 } });
    const gateways = [
      new LimitsAdmission({ clock, store: new RedisCounterStore({ redis, prefix }) }),
      new LimitsAdmission({ clock, store: new RedisCounterStore({ redis: other, prefix }) }),
    ];
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        gateways[i % 2]!.admit({ policy: p, target: TARGET, estimatedInputTokens: 10, maxOutputTokens: 10 }),
      ),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(50);
    expect(outcomes.filter((o) => !o.ok && o.param === 'key_rpm')).toHaveLength(150);
    const usage = await gateways[0]!.windowUsage(p);
    expect(usage.map((u) => [u.param, u.used])).toEqual([
      ['key_rpm', 50],
      ['key_tpm', 1_000],
    ]);
  });

  it('answers every sequence of charges and adjustments exactly like the memory store (property)', async () => {
    let run = 0;
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('charge' as const),
        items: fc.uniqueArray(
          fc.record({
            key: fc.constantFrom('x', 'y', 'z', 'w'),
            amount: fc.integer({ min: 0, max: 6 }),
            limit: fc.integer({ min: 0, max: 12 }),
          }),
          { minLength: 1, maxLength: 4, selector: (item) => item.key },
        ),
      }),
      fc.record({
        kind: fc.constant('adjust' as const),
        key: fc.constantFrom('x', 'y', 'z', 'w'),
        delta: fc.integer({ min: -8, max: 8 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30, size: 'max' }), async (ops) => {
        const memory = new MemoryCounterStore();
        const store = new RedisCounterStore({ redis, prefix: `${prefix}p${++run}:` });
        for (const o of ops) {
          if (o.kind === 'charge') {
            const charges = o.items.map((item) => charge(item.key, item.amount, item.limit));
            expect(await store.chargeAll(charges)).toEqual(memory.chargeAll(charges));
          } else {
            await store.adjust(o.key, o.delta, 60_000);
            memory.adjust(o.key, o.delta, 60_000);
          }
          const keys = ['x', 'y', 'z', 'w'];
          expect(await store.read(keys)).toEqual(memory.read(keys));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a Redis failure surfaces as an Error subclass and the budget reservation is handed back', async () => {
    const broken = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    const spend = new MemorySpendStore();
    const admission = new LimitsAdmission({
      clock: new ManualClock(MID_MORNING),
      spend,
      store: new RedisCounterStore({ redis: broken, prefix }),
    });
    const p = policy({ keyId: 'key_broken', key: { rpm: 5, maxBudgetMicros: 1_000_000 } });
    const error = await admission
      .admit({ policy: p, target: TARGET, estimatedInputTokens: 10, maxOutputTokens: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('CounterStoreError');
    expect(spend.spendOf('key', 'key_broken')).toEqual({ spendMicros: 0, reservedMicros: 0 });
    broken.disconnect();
  });
});
