/**
 * RedisFallbackAdmission + RedisHealth against a redis-server this test starts and stops: while
 * Redis is down window limits are per process (fail open), budgeted requests are refused with
 * budget_unavailable (or admitted locally with KEYGATE_BUDGET_FAIL_OPEN), one log line per outage,
 * tickets end where they were issued, and decisions return to Redis by themselves.
 */
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { RedisSpendStore } from '../../../src/budget/redis-spend-store.js';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/config.js';
import { SHADOW_BITS } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { connectRedis, waitUntilReady, type RedisClient } from '../../../src/ratelimit/redis-connection.js';
import { RedisCounterStore } from '../../../src/ratelimit/redis-counter-store.js';
import { RedisFallbackAdmission } from '../../../src/ratelimit/redis-fallback-admission.js';
import { RedisHealth } from '../../../src/ratelimit/redis-health.js';
import {
  redisAvailable,
  skipReason,
  startRedisServer,
  type RedisServer,
} from '../../helpers/redis-servers.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

if (!redisAvailable) console.warn(skipReason('RedisFallbackAdmission'));

describe.skipIf(!redisAvailable)('Redis mode admission when Redis stops and returns', () => {
  let server: RedisServer;
  const clients: RedisClient[] = [];
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()).msg as string);
        done();
      },
    }),
  );

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.close();
  });

  const setup = async (budgetFailOpen: boolean) => {
    const target = loadConfig({ REDIS_URL: server.url }).redis!;
    const redis = connectRedis(target, { commandTimeoutMs: 250 });
    redis.on('error', () => {});
    clients.push(redis);
    expect(await waitUntilReady(redis, 5000)).toBe(true);
    const clock = new ManualClock(MID_MORNING);
    const prefix = `fallback:${budgetFailOpen}:`;
    const health = new RedisHealth({ redis, clock, logger, fallback: 'per-process limits' });
    const admission = new RedisFallbackAdmission({
      shared: new LimitsAdmission({
        clock,
        store: new RedisCounterStore({ redis, prefix }),
        spend: new RedisSpendStore({ redis, prefix, reservationTtlMs: 60_000 }),
      }),
      local: new LimitsAdmission({ clock, spend: new MemorySpendStore() }),
      health,
      budgetFailOpen,
    });
    return { admission, health, clock, redis };
  };
  const request = (p: ReturnType<typeof policy>) => ({
    policy: p,
    target: TARGET,
    estimatedInputTokens: 10,
    maxOutputTokens: 10,
  });

  it('fails open on windows, closed on budgets, logs once, ends tickets where issued, recovers', async () => {
    const { admission, health, clock } = await setup(false);
    const limited = policy({ keyId: 'key_limited', key: { rpm: 3 } });
    const budgeted = policy({ keyId: 'key_budgeted', key: { maxBudgetMicros: 1_000_000 } });
    const before = await admission.admit(request(limited));
    expect(before.ok).toBe(true);
    lines.length = 0;

    await server.stop(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The Redis ticket ends although Redis is gone: its cost is still returned (usage is reported).
    if (before.ok)
      expect(await admission.settle(before.ticket, { inputTokens: 10, outputTokens: 10 })).toEqual({
        costMicros: 50,
      });
    const started = Date.now();
    const during = await Promise.all(Array.from({ length: 5 }, () => admission.admit(request(limited))));
    expect(Date.now() - started).toBeLessThan(100);
    // Per process: this process's own rpm 3, counted from zero.
    expect(during.map((o) => o.ok)).toEqual([true, true, true, false, false]);
    expect(during[3]).toMatchObject({ ok: false, code: 'rate_limit_exceeded', param: 'key_rpm' });
    expect(await admission.admit(request(budgeted))).toMatchObject({
      ok: false,
      code: 'budget_unavailable',
      param: 'key_budget',
    });
    // Local tickets end locally (a second end is a no-op).
    const local = during[0]!;
    if (local.ok) {
      await admission.release(local.ticket);
      await admission.release(local.ticket);
    }
    expect(health.up).toBe(false);
    expect(health.outages).toBe(1);
    expect(health.fallbackAdmissions).toBe(6);
    expect(lines.filter((line) => line.startsWith('Redis unreachable'))).toHaveLength(1);

    await server.start();
    clock.advance(1_000);
    const deadline = Date.now() + 10_000;
    let back = await admission.admit(request(budgeted));
    while (!back.ok && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      back = await admission.admit(request(budgeted));
    }
    expect(back.ok).toBe(true);
    expect(health.up).toBe(true);
    expect(lines.filter((line) => line.startsWith('Redis reachable again'))).toHaveLength(1);
    // Shared again: the restarted (empty) Redis window admits 3 more, then refuses.
    const after = await Promise.all(Array.from({ length: 4 }, () => admission.admit(request(limited))));
    expect(after.map((o) => o.ok)).toEqual([true, true, true, false]);
  });

  it('a budget in shadow mode never fails closed: with Redis down its requests are admitted (and it is reported)', async () => {
    const { admission } = await setup(false);
    await server.stop(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const shadowOnly = policy({
      keyId: 'key_shadow',
      key: { maxBudgetMicros: 60, shadow: SHADOW_BITS.budget },
    });
    const outcomes = [];
    for (let i = 0; i < 2; i++) outcomes.push(await admission.admit(request(shadowOnly)));
    // 50 micro-USD each against a shadow budget of 60: both admitted, the second reported.
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(outcomes[1]).toMatchObject({ ok: true, shadowRefused: ['key_budget'] });
    await server.start();
  });

  it('KEYGATE_BUDGET_FAIL_OPEN admits budgeted requests against the local spend view', async () => {
    const { admission } = await setup(true);
    await server.stop(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const budgeted = policy({ keyId: 'key_open', key: { maxBudgetMicros: 100 } });
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await admission.admit(request(budgeted)));
    // 50 micro-USD each against 100: two fit in this process's own view, the third does not.
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['ok', 'ok', 'budget_exceeded']);
    await server.start();
  });
});
