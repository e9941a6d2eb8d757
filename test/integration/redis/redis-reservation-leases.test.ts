/**
 * Reservation leases (issue 12): reservations of a gateway process that stops refreshing its
 * lease (kill -9, here a connection cut) are freed by the next admission on the scope once the
 * lease expired; a live gateway's never are; a gateway whose lease expired under it (a stall)
 * goes on under a new lease, and its late settlements never subtract from anyone's reservations;
 * a graceful stop frees what it still holds at once. On a single Redis and on a 3-master Cluster
 * (lease keys carry the org's hash tag).
 */
import { describe, expect, it } from 'vitest';
import { RedisSpendStore } from '../../../src/budget/redis-spend-store.js';
import type { RedisClient } from '../../../src/ratelimit/redis-connection.js';
import { deploymentNames, noRedisMessage, uniquePrefix, useDeployment } from '../../helpers/redis-targets.js';
import { policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('reservation leases'));

/** Long enough that a loaded machine delaying the 50 ms refresh timer does not expire a live lease. */
const LEASE_TTL_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Concurrent: each test waits out real lease TTLs (Redis expires the keys, no clock to inject) and
// uses its own org and gateways, so the waits overlap instead of adding up (same TTLs, same checks).
describe.skipIf(names.length === 0).concurrent.each(names)('reservation leases on %s Redis', (name) => {
  const { connect } = useDeployment(name);
  const prefix = uniquePrefix('lease');
  let run = 0;

  const newStore = async (): Promise<{ store: RedisSpendStore; redis: RedisClient }> => {
    const redis = await connect();
    const store = new RedisSpendStore({
      redis,
      prefix,
      reservationTtlMs: 600_000,
      leaseTtlMs: LEASE_TTL_MS,
      leaseRefreshMs: 50,
    });
    return { store, redis };
  };
  const teamBudget = () => {
    run++;
    return policy({
      keyId: `key_${run}`,
      teamId: `team_${run}`,
      orgId: `org_${run}`,
      team: { maxBudgetMicros: 1000 },
    });
  };
  const reserved = (p: ReturnType<typeof policy>) => `${prefix}{${p.org.id}}:rl:team:${p.team.id}`;

  it('a gateway that stops refreshing its lease has its reservations freed by the next admission after the TTL', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = teamBudget();
    expect((await a.store.reserve(p, 600)).ok).toBe(true);
    a.redis.disconnect(); // A is gone: no settlement, no refresh
    expect(await b.store.reserve(p, 600)).toEqual({ ok: false, scope: 'team' });
    await sleep(LEASE_TTL_MS + 100);
    expect((await b.store.reserve(p, 600)).ok).toBe(true);
    b.store.observe(p);
    expect(await b.store.spendOf('team', p.team.id)).toEqual({ spendMicros: 0, reservedMicros: 600 });
    expect(await b.redis.hlen(reserved(p))).toBe(1);
  });

  it('a live gateway keeps its reservations past many lease TTLs', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = teamBudget();
    const held = await a.store.reserve(p, 600);
    await sleep(LEASE_TTL_MS * 4);
    expect(await b.store.reserve(p, 600)).toEqual({ ok: false, scope: 'team' });
    if (held.ok) await a.store.settle(held.reservation, 100);
    expect((await b.store.reserve(p, 600)).ok).toBe(true);
  });

  it('after its lease expired under it, a gateway goes on under a new lease and a late settlement only adds spend', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = teamBudget();
    const old = await a.store.reserve(p, 600);
    if (!old.ok) throw new Error('expected a reservation');
    // A stalls longer than the TTL: its lease expires and B frees its 600.
    for (const lease of await a.redis.hkeys(reserved(p)))
      await a.redis.del(`${prefix}{${p.org.id}}:lease:${lease}`);
    expect((await b.store.reserve(p, 300)).ok).toBe(true);
    // A comes back: a new reservation goes under a new lease, then the freed one settles late.
    expect((await a.store.reserve(p, 100)).ok).toBe(true);
    await a.store.settle(old.reservation, 50);
    b.store.observe(p);
    expect(await b.store.spendOf('team', p.team.id)).toEqual({ spendMicros: 50, reservedMicros: 400 });
    expect(await b.redis.hlen(reserved(p))).toBe(2);
  });

  it('a reservation taken while the first one of its lease is unanswered never revives that lease once it expired', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = teamBudget();
    // A's first reservation under a new lease runs in Redis (sent here over B's connection), then
    // A stalls before reading the answer.
    type Scripted = { keygateSpendReserve3: (...args: unknown[]) => Promise<number> };
    const scripted = a.redis as unknown as Scripted;
    const reserve = scripted.keygateSpendReserve3;
    let ran!: () => void;
    let answer!: () => void;
    const hasRun = new Promise<void>((resolve) => (ran = resolve));
    const answered = new Promise<void>((resolve) => (answer = resolve));
    scripted.keygateSpendReserve3 = async (...args: unknown[]) => {
      scripted.keygateSpendReserve3 = reserve;
      const reply = await (b.redis as unknown as Scripted).keygateSpendReserve3(...args);
      ran();
      await answered;
      return reply;
    };
    const first = a.store.reserve(p, 600);
    await hasRun;
    // The stall outlasts the lease: it expires and B's admission frees the 600.
    for (const lease of await a.redis.hkeys(reserved(p)))
      await a.redis.del(`${prefix}{${p.org.id}}:lease:${lease}`);
    expect((await b.store.reserve(p, 300)).ok).toBe(true);
    // A resumes: a new request is admitted before the first answer is read, then the first
    // request (whose reservation was freed) settles.
    expect((await a.store.reserve(p, 100)).ok).toBe(true);
    answer();
    const old = await first;
    if (!old.ok) throw new Error('expected a reservation');
    await a.store.settle(old.reservation, 50);
    b.store.observe(p);
    expect(await b.store.spendOf('team', p.team.id)).toEqual({ spendMicros: 50, reservedMicros: 400 });
  });

  it('a reservation whose settlement failed (Redis blip) is freed once its lease ends, though the gateway stays busy', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = teamBudget();
    const lost = await a.store.reserve(p, 300);
    const held = await a.store.reserve(p, 100);
    if (!lost.ok || !held.ok) throw new Error('expected reservations');
    const scripted = a.redis as unknown as { keygateBatch1: (...args: unknown[]) => Promise<number> };
    const original = scripted.keygateBatch1;
    scripted.keygateBatch1 = () => Promise.reject(new Error('connection reset'));
    await expect(a.store.settle(lost.reservation, 0)).rejects.toThrow('connection reset');
    scripted.keygateBatch1 = original;
    // A always holds a reservation in the org (each taken before the previous one settles).
    let previous = held;
    for (let i = 0; i < 12; i++) {
      const next = await a.store.reserve(p, 100);
      if (!next.ok) throw new Error('expected a reservation');
      await a.store.settle(previous.reservation, 0);
      previous = next;
      await sleep(LEASE_TTL_MS / 4);
    }
    b.store.observe(p);
    expect(await b.store.spendOf('team', p.team.id)).toEqual({ spendMicros: 0, reservedMicros: 100 });
    await a.store.settle(previous.reservation, 0);
  });

  it('a reservation Redis made although its answer was lost (command timeout) is freed once its lease ends, though the gateway stays busy', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = teamBudget();
    const held = await a.store.reserve(p, 100);
    if (!held.ok) throw new Error('expected a reservation');
    // Redis runs A's script (here sent over B's connection), but the answer never reaches A: its
    // command timeout fired first.
    type Scripted = { keygateSpendReserve3: (...args: unknown[]) => Promise<number> };
    const scripted = a.redis as unknown as Scripted;
    const reserve = scripted.keygateSpendReserve3;
    scripted.keygateSpendReserve3 = async (...args: unknown[]) => {
      await (b.redis as unknown as Scripted).keygateSpendReserve3(...args);
      throw new Error('Command timed out');
    };
    await expect(a.store.reserve(p, 300)).rejects.toThrow('Command timed out');
    scripted.keygateSpendReserve3 = reserve;
    // A always holds a reservation in the org (each taken before the previous one settles).
    let previous = held;
    for (let i = 0; i < 12; i++) {
      const next = await a.store.reserve(p, 100);
      if (!next.ok) throw new Error('expected a reservation');
      await a.store.settle(previous.reservation, 0);
      previous = next;
      await sleep(LEASE_TTL_MS / 4);
    }
    b.store.observe(p);
    expect(await b.store.spendOf('team', p.team.id)).toEqual({ spendMicros: 0, reservedMicros: 100 });
    await a.store.settle(previous.reservation, 0);
  });

  it('a graceful stop frees what the gateway still holds at once', async () => {
    const [a, b] = [await newStore(), await newStore()];
    const p = teamBudget();
    expect((await a.store.reserve(p, 600)).ok).toBe(true);
    await a.store.close();
    b.store.observe(p);
    expect(await b.store.spendOf('team', p.team.id)).toEqual({ spendMicros: 0, reservedMicros: 0 });
    expect((await b.store.reserve(p, 1000)).ok).toBe(true);
  });
});
