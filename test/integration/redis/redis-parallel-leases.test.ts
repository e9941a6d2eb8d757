/**
 * Parallel-cap slots held under leases (issue 14 item 3 on issue 12's leases): slots of a gateway
 * process that stops refreshing its lease (kill -9, here a connection cut) are freed by the next
 * admission on the scope once the lease expired, however often the scope is charged meanwhile; a
 * live gateway's never are; a gateway whose lease expired under it goes on under a new lease and
 * its late ends never give back anyone else's slots; a graceful stop frees them at once; budget
 * reservations and slots of one process share one lease. On a single Redis and on a 3-master
 * Cluster (held hashes and lease keys carry the org's hash tag).
 */
import { describe, expect, it } from 'vitest';
import { RedisSpendStore } from '../../../src/budget/redis-spend-store.js';
import { ReservationLeases } from '../../../src/budget/reservation-leases.js';
import { ManualClock } from '../../../src/clock.js';
import type { AdmissionOutcome } from '../../../src/policy/admission.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import type { RedisClient } from '../../../src/ratelimit/redis-connection.js';
import { RedisCounterStore } from '../../../src/ratelimit/redis-counter-store.js';
import { deploymentNames, noRedisMessage, uniquePrefix, useDeployment } from '../../helpers/redis-targets.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('parallel-cap leases'));

/** Long enough that a loaded machine delaying the 50 ms refresh timer does not expire a live lease. */
const LEASE_TTL_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Gateway {
  admission: LimitsAdmission;
  store: RedisCounterStore;
  redis: RedisClient;
}

// Concurrent: each test waits out real lease TTLs (Redis expires the keys, no clock to inject) and
// uses its own org and gateways, so the waits overlap instead of adding up (same TTLs, same checks).
describe.skipIf(names.length === 0).concurrent.each(names)('parallel-cap leases on %s Redis', (name) => {
  const { connect } = useDeployment(name);
  const prefix = uniquePrefix('parallel-lease');
  let run = 0;

  const gateway = async (): Promise<Gateway> => {
    const redis = await connect();
    const clock = new ManualClock(MID_MORNING);
    const store = new RedisCounterStore({ redis, prefix, leaseTtlMs: LEASE_TTL_MS, leaseRefreshMs: 50 });
    const spend = new RedisSpendStore({ redis, prefix, reservationTtlMs: 600_000, clock });
    return { admission: new LimitsAdmission({ clock, store, spend }), store, redis };
  };
  /** A key with cap 2 in a team with cap 3 (a fresh org per test). */
  const capped = (): [ResolvedKeyPolicy, ResolvedKeyPolicy] => {
    run++;
    const ids = { teamId: `team_${run}`, orgId: `org_${run}` };
    return [
      policy({ ...ids, keyId: `key_${run}`, key: { maxParallel: 2 }, team: { maxParallel: 3 } }),
      policy({ ...ids, keyId: `other_${run}`, team: { maxParallel: 3 } }),
    ];
  };
  const admit = (g: Gateway, p: ResolvedKeyPolicy) =>
    g.admission.admit({ policy: p, target: TARGET, estimatedInputTokens: 10, maxOutputTokens: 10 });
  const param = (outcome: AdmissionOutcome) => (outcome.ok ? 'ok' : outcome.param);
  const inFlight = async (g: Gateway, p: ResolvedKeyPolicy) =>
    (await g.admission.windowUsage(p))
      .filter((entry) => entry.param.endsWith('_parallel'))
      .map((e) => e.used);

  it('a gateway that stops refreshing its lease has its slots freed by the next admission after the TTL, while the team is busy', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const [key, other] = capped();
    expect(param(await admit(a, key))).toBe('ok');
    expect(param(await admit(a, key))).toBe('ok');
    a.redis.disconnect(); // A is gone: its requests never end, its lease is never refreshed
    expect(param(await admit(b, key))).toBe('key_parallel');
    expect(await inFlight(b, key)).toEqual([2, 2]);
    // A busy stream on the team keeps charging (and renewing) its counter meanwhile.
    for (let i = 0; i < 8; i++) {
      const outcome = await admit(b, other);
      expect(param(outcome)).toBe('ok');
      if (outcome.ok) await b.admission.settle(outcome.ticket, { inputTokens: 1, outputTokens: 1 });
      await sleep(LEASE_TTL_MS / 4);
    }
    const again = [await admit(b, key), await admit(b, key)];
    expect(again.map(param)).toEqual(['ok', 'ok']);
    expect(param(await admit(b, key))).toBe('key_parallel');
    expect(await inFlight(b, key)).toEqual([2, 2]);
  });

  it('a live gateway keeps its slots past many lease TTLs, and gives them back when its requests end', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const [key] = capped();
    const held = [await admit(a, key), await admit(a, key)];
    await sleep(LEASE_TTL_MS * 4);
    expect(param(await admit(b, key))).toBe('key_parallel');
    for (const outcome of held) if (outcome.ok) await a.admission.release(outcome.ticket);
    expect(await inFlight(b, key)).toEqual([0, 0]);
    expect(param(await admit(b, key))).toBe('ok');
  });

  it('after its lease expired under it, a gateway goes on under a new lease and a late end gives back nobody else’s slot', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const [key] = capped();
    const old = await admit(a, key);
    if (!old.ok) throw new Error('expected an admission');
    // A stalls longer than the TTL: its lease expires and B's next admission frees its slot.
    const hash = `${prefix}{${key.org.id}}:pl:key:${key.key.id}:parallel:0`;
    for (const lease of await a.redis.hkeys(hash))
      await a.redis.del(`${prefix}{${key.org.id}}:lease:${lease}`);
    expect(param(await admit(b, key))).toBe('ok');
    // A comes back: a new admission goes under a new lease, then the freed request ends late.
    expect(param(await admit(a, key))).toBe('ok');
    await a.admission.settle(old.ticket, { inputTokens: 1, outputTokens: 1 });
    expect(await inFlight(b, key)).toEqual([2, 2]);
    expect(await b.redis.hlen(hash)).toBe(2);
    expect(param(await admit(b, key))).toBe('key_parallel');
  });

  it('a slot whose release failed (Redis blip) is freed once the lease it was taken under ends, though the gateway stays busy', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const [key, other] = capped();
    const lost = await admit(a, key);
    const held = await admit(a, key);
    if (!lost.ok || !held.ok) throw new Error('expected admissions');
    // The release of one request fails in Redis (the connection is fine otherwise).
    const scripted = a.redis as unknown as { keygateBatch1: (...args: unknown[]) => Promise<number> };
    const original = scripted.keygateBatch1;
    scripted.keygateBatch1 = () => Promise.reject(new Error('connection reset'));
    await expect(a.admission.release(lost.ticket)).rejects.toThrow('connection reset');
    scripted.keygateBatch1 = original;
    // A stays busy in the org for many TTLs: another key of the team always has a request in
    // flight (each admitted before the previous one ends), so A always holds something there.
    let previous = held;
    for (let i = 0; i < 12; i++) {
      const next = await admit(a, other);
      if (!next.ok) throw new Error('expected an admission');
      await a.admission.settle(previous.ticket, { inputTokens: 1, outputTokens: 1 });
      previous = next;
      await sleep(LEASE_TTL_MS / 4);
    }
    expect(await inFlight(b, key)).toEqual([0, 1]);
    expect([await admit(b, key), await admit(b, key)].map(param)).toEqual(['ok', 'ok']);
    await a.admission.settle(previous.ticket, { inputTokens: 1, outputTokens: 1 });
  });

  it('a slot Redis took although the answer was lost (command timeout) is freed once its lease ends, though the gateway stays busy', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const [key, other] = capped();
    const held = await admit(a, other);
    if (!held.ok) throw new Error('expected an admission');
    // Redis runs A's charge (here sent over B's connection), but the answer never reaches A: its
    // command timeout fired first, so A's admission fails and the request is never served.
    type Scripted = { keygateChargeAll2: (...args: unknown[]) => Promise<number[]> };
    const scripted = a.redis as unknown as Scripted;
    const charge = scripted.keygateChargeAll2;
    scripted.keygateChargeAll2 = async (...args: unknown[]) => {
      await (b.redis as unknown as Scripted).keygateChargeAll2(...args);
      throw new Error('Command timed out');
    };
    await expect(admit(a, key)).rejects.toThrow('Command timed out');
    scripted.keygateChargeAll2 = charge;
    // A stays busy in the org for many TTLs (each request admitted before the previous one ends).
    let previous = held;
    for (let i = 0; i < 12; i++) {
      const next = await admit(a, other);
      if (!next.ok) throw new Error('expected an admission');
      await a.admission.settle(previous.ticket, { inputTokens: 1, outputTokens: 1 });
      previous = next;
      await sleep(LEASE_TTL_MS / 4);
    }
    expect(await inFlight(b, key)).toEqual([0, 1]);
    expect([await admit(b, key), await admit(b, key)].map(param)).toEqual(['ok', 'ok']);
    await a.admission.settle(previous.ticket, { inputTokens: 1, outputTokens: 1 });
  });

  it('a graceful stop frees the slots the gateway still holds at once', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const [key] = capped();
    expect(param(await admit(a, key))).toBe('ok');
    expect(param(await admit(a, key))).toBe('ok');
    await a.store.close();
    expect(await inFlight(b, key)).toEqual([0, 0]);
    expect(param(await admit(b, key))).toBe('ok');
  });

  it('one process holds its reservations and its slots under one lease per org', async () => {
    const redis = await connect();
    const clock = new ManualClock(MID_MORNING);
    const leases = new ReservationLeases({ redis, prefix, ttlMs: LEASE_TTL_MS, refreshMs: 50 });
    const admission = new LimitsAdmission({
      clock,
      store: new RedisCounterStore({ redis, prefix, leases }),
      spend: new RedisSpendStore({ redis, prefix, reservationTtlMs: 600_000, clock, leases }),
    });
    run++;
    const p = policy({
      keyId: `key_${run}`,
      orgId: `org_${run}`,
      key: { maxParallel: 2, maxBudgetMicros: 1_000_000 },
    });
    const outcome = await admission.admit({
      policy: p,
      target: TARGET,
      estimatedInputTokens: 10,
      maxOutputTokens: 10,
    });
    expect(outcome.ok).toBe(true);
    const org = `${prefix}{${p.org.id}}`;
    const slotLeases = await redis.hkeys(`${org}:pl:key:${p.key.id}:parallel:0`);
    expect(slotLeases).toHaveLength(1);
    expect(await redis.hkeys(`${org}:rl:key:${p.key.id}`)).toEqual(slotLeases);
    await sleep(LEASE_TTL_MS * 3); // refreshed while held
    expect(await redis.exists(`${org}:lease:${slotLeases[0]}`)).toBe(1);
    if (outcome.ok) await admission.settle(outcome.ticket, { inputTokens: 1, outputTokens: 1 });
    await leases.close();
  });
});
