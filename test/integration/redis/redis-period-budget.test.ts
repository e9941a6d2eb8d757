/**
 * Budget periods in Redis mode (issue 14 item 2 on issue 12's shared spend): two gateways' worth
 * of admissions (two LimitsAdmission instances on one Redis, each with its own connection and
 * manual clock) never let the spend of one UTC day exceed a daily budget, and the next day admits
 * again at the boundary with no admin call (no new policy load).
 */
import { describe, expect, it } from 'vitest';
import { RedisSpendStore } from '../../../src/budget/redis-spend-store.js';
import { ManualClock } from '../../../src/clock.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import {
  deploymentNames,
  noRedisMessage,
  redisLimitsAdmission,
  uniquePrefix,
  useDeployment,
} from '../../helpers/redis-targets.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('Redis budget periods'));

const DAY_MS = 86_400_000;
/** 1 000 input tokens at $1/Mtok: 1 000 micro-USD per request, estimate and real cost alike. */
const request = (p: ResolvedKeyPolicy) => ({
  policy: p,
  target: TARGET,
  estimatedInputTokens: 1000,
  maxOutputTokens: 0,
});

describe.skipIf(names.length === 0).each(names)('budget periods on %s Redis', (name) => {
  const deployment = useDeployment(name);
  const prefix = uniquePrefix('period');
  let run = 0;

  const replica = async (clock: ManualClock): Promise<LimitsAdmission> =>
    redisLimitsAdmission(await deployment.connect(), prefix, clock);
  const ids = () => {
    run++;
    return { keyId: `key_${run}`, teamId: `team_${run}`, orgId: `org_${run}` };
  };

  it('a daily budget shared by two replicas is never exceeded within a day, and the next UTC day admits again', async () => {
    const clocks = [new ManualClock(MID_MORNING), new ManualClock(MID_MORNING)];
    const [a, b] = [await replica(clocks[0]!), await replica(clocks[1]!)];
    // $0.01 a day = 10 requests of 1 000 micro-USD; the admin's figures say 2 000 already spent today.
    const base = policy({ ...ids(), key: { maxBudgetMicros: 10_000, budgetPeriod: 'day' } });
    const p: ResolvedKeyPolicy = {
      ...base,
      key: {
        ...base.key,
        spendMicros: 50_000,
        periodSpendMicros: 2000,
        periodStartMs: MID_MORNING - (MID_MORNING % DAY_MS),
      },
    };
    const round = async (count: number) => {
      const outcomes = await Promise.all(
        Array.from({ length: count }, (_, i) => (i % 2 === 0 ? a : b).admit(request(p))),
      );
      await Promise.all(
        outcomes.map((o, i) =>
          o.ok ? (i % 2 === 0 ? a : b).settle(o.ticket, { inputTokens: 1000, outputTokens: 0 }) : null,
        ),
      );
      return outcomes;
    };
    const day1 = await round(40);
    expect(day1.filter((o) => o.ok)).toHaveLength(8);
    expect(day1.filter((o) => !o.ok && o.param === 'key_budget')).toHaveLength(32);
    // Later the same day, still nothing fits, on either replica.
    clocks.forEach((clock) => clock.advance(13 * 3_600_000));
    expect((await round(4)).filter((o) => o.ok)).toHaveLength(0);
    // 00:00:00.000 UTC the next day (the policy is the same object: no admin load at the boundary).
    const midnight = MID_MORNING - (MID_MORNING % DAY_MS) + DAY_MS;
    clocks.forEach((clock) => clock.set(midnight));
    const day2 = await round(40);
    expect(day2.filter((o) => o.ok)).toHaveLength(10);
    expect(await a.liveCounters(p)).toMatchObject({
      budgets: [
        { scope: 'key', spend_micros: 10_000, reserved_micros: 0 },
        { scope: 'team' },
        { scope: 'org' },
      ],
    });
  });

  it('lifetime and period budgets are decided together: a refused period budget reserves nothing on the lifetime one', async () => {
    const clock = new ManualClock(MID_MORNING);
    const a = await replica(clock);
    const p = policy({
      ...ids(),
      key: { maxBudgetMicros: 2500, budgetPeriod: 'week' },
      spend: { key: 5000 }, // lifetime spend: not what a weekly budget counts
      org: { maxBudgetMicros: 1_000_000 },
    });
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await a.admit(request(p)));
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false]);
    expect(outcomes[2]).toMatchObject({ ok: false, param: 'key_budget' });
    const counters = await a.liveCounters(p);
    expect(counters.budgets.find((b) => b.scope === 'org')).toMatchObject({ reserved_micros: 2000 });
    expect(counters.budgets.find((b) => b.scope === 'key')).toMatchObject({ reserved_micros: 2000 });
    for (const o of outcomes) if (o.ok) await a.release(o.ticket);
  });

  it('period counters carry a TTL a little beyond the period end', async () => {
    const clock = new ManualClock(MID_MORNING);
    const redis = await deployment.connect();
    const store = new RedisSpendStore({ redis, prefix, reservationTtlMs: 60_000, clock });
    const p = policy({ ...ids(), team: { maxBudgetMicros: 100, budgetPeriod: 'day' } });
    const r = await store.reserve(p, 10);
    if (!r.ok) throw new Error('expected a reservation');
    await store.settle(r.reservation, 10);
    const dayStart = MID_MORNING - (MID_MORNING % DAY_MS);
    const ttl = await redis.pttl(`${prefix}{${p.org.id}}:sp:team:${p.team.id}:${dayStart}`);
    const untilEnd = dayStart + DAY_MS - MID_MORNING;
    expect(ttl).toBeGreaterThan(untilEnd);
    expect(ttl).toBeLessThanOrEqual(untilEnd + 3_600_000);
  });
});
