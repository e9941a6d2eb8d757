/**
 * keygate's per-request Redis calls batched per event-loop turn (src/ratelimit/redis-call-batcher.ts),
 * on a single Redis and on a 3-master Cluster: requests admitted or ending together cost one
 * script call per org (one for all orgs on a single server); each admission stays all-or-nothing
 * in arrival order; counters and spend read exactly what one call per request gave; a call never
 * spans two slots; and a call that fails fails every operation in it: admissions throw a store
 * error (the fallback's cue) and charge nothing, settlements retire their lease as a failed
 * single settlement did.
 */
import { describe, expect, it } from 'vitest';
import { RedisSpendStore } from '../../../src/budget/redis-spend-store.js';
import { ReservationLeases } from '../../../src/budget/reservation-leases.js';
import { ManualClock } from '../../../src/clock.js';
import type { AdmissionTicket } from '../../../src/policy/admission.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import type { RedisClient } from '../../../src/ratelimit/redis-connection.js';
import { RedisCounterStore } from '../../../src/ratelimit/redis-counter-store.js';
import { RedisCallBatcher } from '../../../src/ratelimit/redis-call-batcher.js';
import { deploymentNames, noRedisMessage, uniquePrefix, useDeployment } from '../../helpers/redis-targets.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('batched Redis calls'));

/** Long enough that a loaded machine delaying the 50 ms refresh timer does not expire a live lease. */
const LEASE_TTL_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

type Settle = (...args: unknown[]) => Promise<number>;

/**
 * Counts the batch script's calls on a client (passing them through), and can make them fail:
 * every call while `fail` is set, and the next `failNext` calls.
 */
function watchSettles(redis: RedisClient): { calls: number; fail: boolean; failNext: number } {
  const scripted = redis as unknown as { keygateBatch1: Settle };
  const original = scripted.keygateBatch1.bind(redis);
  const watch = { calls: 0, fail: false, failNext: 0 };
  scripted.keygateBatch1 = (...args) => {
    watch.calls++;
    if (watch.fail || watch.failNext-- > 0) return Promise.reject(new Error('connection reset'));
    return original(...args);
  };
  return watch;
}

describe.skipIf(names.length === 0).each(names)('batched Redis calls on %s Redis', (name) => {
  const { connect } = useDeployment(name);
  const prefix = uniquePrefix('settle-batch');
  let run = 0;

  /** One gateway process as gateway/redis-mode.ts wires it: one batcher and one lease set for both stores. */
  const gateway = async (windowMs = 0) => {
    const redis = await connect();
    const clock = new ManualClock(MID_MORNING);
    const leases = new ReservationLeases({ redis, prefix, ttlMs: LEASE_TTL_MS, refreshMs: 50 });
    const batcher = new RedisCallBatcher({ redis, settleWindowMs: windowMs });
    const store = new RedisCounterStore({ redis, prefix, leases, batcher });
    const spend = new RedisSpendStore({ redis, prefix, reservationTtlMs: 600_000, clock, leases, batcher });
    const admission = new LimitsAdmission({ clock, store, spend });
    return { redis, admission, spend, leases, watch: watchSettles(redis) };
  };
  type Gateway = Awaited<ReturnType<typeof gateway>>;
  /** Windows on key, team and org, a team budget and parallel caps (a fresh org per call). */
  const everything = (org = `org_${++run}`): ResolvedKeyPolicy =>
    policy({
      keyId: `key_${org}`,
      teamId: `team_${org}`,
      orgId: org,
      key: { rpm: 1000, tpm: 1_000_000, maxParallel: 100 },
      team: { tpm: 1_000_000, maxBudgetMicros: 1_000_000_000 },
      org: { rpm: 1000, tpm: 1_000_000, maxParallel: 100 },
    });
  const admit = async (g: Gateway, p: ResolvedKeyPolicy): Promise<AdmissionTicket> => {
    const outcome = await g.admission.admit({
      policy: p,
      target: TARGET,
      estimatedInputTokens: 10,
      maxOutputTokens: 90,
    });
    if (!outcome.ok) throw new Error(`refused: ${outcome.param}`);
    return outcome.ticket;
  };
  const used = async (g: Gateway, p: ResolvedKeyPolicy) =>
    Object.fromEntries((await g.admission.windowUsage(p)).map((entry) => [entry.param, entry.used]));

  it('admissions of one turn share one call, each all-or-nothing in arrival order: a refused one charges nothing, a later smaller one fits', async () => {
    const g = await gateway();
    const org = `org_${++run}`;
    const p = policy({
      keyId: `key_${org}`,
      teamId: `team_${org}`,
      orgId: org,
      key: { rpm: 100, tpm: 250 },
      org: { rpm: 3 },
    });
    const before = g.watch.calls;
    // Token reservations 100, 100, 100, 40, 10: the third does not fit key_tpm, the fourth does,
    // and the fifth fits key_tpm exactly but finds org_rpm full.
    const outcomes = await Promise.all(
      [90, 90, 90, 30, 0].map((maxOutputTokens) =>
        g.admission.admit({ policy: p, target: TARGET, estimatedInputTokens: 10, maxOutputTokens }),
      ),
    );
    expect(g.watch.calls - before).toBe(1);
    expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.param))).toEqual([
      'ok',
      'ok',
      'key_tpm',
      'ok',
      'org_rpm',
    ]);
    expect(await used(g, p)).toEqual({ key_rpm: 3, key_tpm: 240, org_rpm: 3 });
  });

  it('a counter charged under two limits in one call (a key re-limited meanwhile) is checked against each request’s own', async () => {
    const g = await gateway();
    const org = `org_${++run}`;
    const ids = { keyId: `key_${org}`, teamId: `team_${org}`, orgId: org };
    const [old, relimited] = [
      policy({ ...ids, key: { rpm: 5 } }),
      policy({ ...ids, key: { rpm: 2 }, version: 2 }),
    ];
    const outcomes = await Promise.all(
      [old, old, relimited, old].map((p) =>
        g.admission.admit({ policy: p, target: TARGET, estimatedInputTokens: 1, maxOutputTokens: 1 }),
      ),
    );
    expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.param))).toEqual([
      'ok',
      'ok',
      'key_rpm',
      'ok',
    ]);
    expect(await used(g, old)).toEqual({ key_rpm: 3 });
  });

  it('a call that fails fails each admission in it with a store error, charging nothing, and hands their budget reservations back', async () => {
    const g = await gateway();
    const p = everything();
    const org = p.org.id;
    const windowsOnly = policy({
      keyId: `w_${org}`,
      teamId: p.team.id,
      orgId: org,
      key: { rpm: 10 },
      team: { tpm: 1000 },
    });
    const request = (q: ResolvedKeyPolicy) =>
      g.admission.admit({ policy: q, target: TARGET, estimatedInputTokens: 10, maxOutputTokens: 90 });
    g.watch.failNext = 1;
    const outcomes = await Promise.allSettled([
      request(windowsOnly),
      request(windowsOnly),
      request(windowsOnly),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toContain('connection reset');
    expect(await used(g, windowsOnly)).toEqual({ key_rpm: 0, team_tpm: 0 });
    // A budgeted request: its reservation was taken (its own script) before the windows failed.
    const budgeted = policy({
      keyId: `b_${org}`,
      teamId: p.team.id,
      orgId: org,
      key: { rpm: 10 },
      team: p.team.limits,
    });
    g.watch.failNext = 1;
    await expect(request(budgeted)).rejects.toThrow('connection reset');
    g.spend.observe(budgeted);
    expect(await g.spend.spendOf('team', p.team.id)).toEqual({ spendMicros: 0, reservedMicros: 0 });
    expect(await used(g, budgeted)).toMatchObject({ key_rpm: 0, team_tpm: 0 });
  });

  it('twenty requests ending in one turn cost one script call, and windows, slots and spend read as if each had settled alone', async () => {
    const g = await gateway();
    const p = everything();
    const tickets: AdmissionTicket[] = [];
    for (let i = 0; i < 20; i++) tickets.push(await admit(g, p));
    expect(await used(g, p)).toMatchObject({ key_tpm: 2000, key_parallel: 20, org_parallel: 20 });
    const before = g.watch.calls;
    // Request i used 5 + i input and 2 * i output tokens; request 0 is released (upstream failed).
    const costs = await Promise.all(
      tickets.map((ticket, i) =>
        i === 0
          ? g.admission.release(ticket).then(() => ({ costMicros: 0 }))
          : g.admission.settle(ticket, { inputTokens: 5 + i, outputTokens: 2 * i }),
      ),
    );
    expect(g.watch.calls - before).toBe(1);
    let tokens = 0;
    for (let i = 1; i < 20; i++) tokens += 5 + i + 2 * i;
    expect(await used(g, p)).toEqual({
      key_rpm: 19,
      key_tpm: tokens,
      key_parallel: 0,
      team_tpm: tokens,
      org_rpm: 19,
      org_tpm: tokens,
      org_parallel: 0,
    });
    const spent = costs.reduce((sum, { costMicros }) => sum + costMicros, 0);
    expect(spent).toBeGreaterThan(0);
    expect(await g.spend.spendOf('team', p.team.id)).toEqual({ spendMicros: spent, reservedMicros: 0 });
  });

  it('orgs settling in one turn: one call per org on a Cluster (no batch spans two slots), one for all on a single server', async () => {
    const g = await gateway();
    // Orgs whose hash tags fall on different masters of the test cluster.
    const orgs = ['org_a', 'org_b', 'org_c', 'org_d'].map((org) => everything(`${org}_${++run}`));
    const tickets = await Promise.all(orgs.map(async (p) => [await admit(g, p), await admit(g, p)]));
    const before = g.watch.calls;
    await Promise.all(
      tickets.flat().map((ticket) => g.admission.settle(ticket, { inputTokens: 40, outputTokens: 10 })),
    );
    expect(g.watch.calls - before).toBe(name === 'cluster' ? orgs.length : 1);
    for (const p of orgs) {
      expect(await used(g, p)).toMatchObject({ key_tpm: 100, team_tpm: 100, org_tpm: 100, org_parallel: 0 });
      expect(await g.spend.spendOf('team', p.team.id)).toEqual({ spendMicros: 2 * 80, reservedMicros: 0 });
    }
  });

  it('with a batch window, settlements a few turns apart share one call; without, each turn sends its own', async () => {
    for (const windowMs of [0, 500]) {
      const g = await gateway(windowMs);
      const p = everything();
      const tickets = [await admit(g, p), await admit(g, p), await admit(g, p)];
      const before = g.watch.calls;
      const done: Promise<unknown>[] = [];
      for (const ticket of tickets) {
        done.push(g.admission.settle(ticket, { inputTokens: 1, outputTokens: 1 }));
        await nextTurn();
        await nextTurn();
      }
      await Promise.all(done);
      expect(g.watch.calls - before).toBe(windowMs === 0 ? 3 : 1);
      expect(await used(g, p)).toMatchObject({ key_tpm: 6, org_parallel: 0 });
    }
  });

  it('a batch that fails fails each settlement in it, and each retires its lease: what they held is freed once it expires, though the gateway stays busy', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const p = everything();
    const other = policy({
      keyId: `other_${p.org.id}`,
      teamId: p.team.id,
      orgId: p.org.id,
      team: p.team.limits,
      org: p.org.limits,
    });
    const lost = [await admit(a, p), await admit(a, p)];
    const held = await admit(a, p);
    a.watch.fail = true;
    const failed = await Promise.allSettled(
      lost.map((ticket) => a.admission.settle(ticket, { inputTokens: 1, outputTokens: 1 })),
    );
    a.watch.fail = false;
    expect(failed.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(a.watch.calls).toBeGreaterThan(0);
    // A stays busy in the org for many lease TTLs (each request admitted before the previous ends).
    let previous = held;
    for (let i = 0; i < 12; i++) {
      const next = await admit(a, other);
      await a.admission.settle(previous, { inputTokens: 1, outputTokens: 1 });
      previous = next;
      await sleep(LEASE_TTL_MS / 4);
    }
    // The next admission on the scopes drops the expired lease's entries: only `previous` is held.
    const probe = await admit(b, p);
    expect(await used(b, p)).toMatchObject({ key_parallel: 1, org_parallel: 2 });
    b.spend.observe(p);
    const view = await b.spend.spendOf('team', p.team.id);
    expect(view?.reservedMicros).toBe(2 * 370);
    await Promise.all([
      a.admission.settle(previous, { inputTokens: 1, outputTokens: 1 }),
      b.admission.settle(probe, { inputTokens: 1, outputTokens: 1 }),
    ]);
  });

  it('a full batch is sent at once; a window counter never goes below zero, a refund to a missing one is dropped', async () => {
    const redis = await connect();
    const batcher = new RedisCallBatcher({ redis, maxOperations: 2 });
    const watch = watchSettles(redis);
    const org = `org_${++run}`;
    const key = (n: number) => `${prefix}{${org}}:w:batch:${n}`;
    await redis.set(key(0), '10', 'PX', 60_000);
    const done = [
      batcher.adjust(org, key(0), 5, 60_000),
      batcher.adjust(org, key(0), -20, 60_000), // the same counter: one operation of -15
      batcher.adjust(org, key(1), -3, 60_000), // the second operation: the batch is full, sent now
      batcher.adjust(org, key(2), 7, 60_000), // the next batch, sent at the end of the turn
    ];
    expect(watch.calls).toBe(1);
    await Promise.all(done);
    expect(watch.calls).toBe(2);
    expect(await redis.mget(key(0), key(1), key(2))).toEqual(['0', null, '7']);
    expect(await redis.pttl(key(2))).toBeGreaterThan(50_000);
  });
});
