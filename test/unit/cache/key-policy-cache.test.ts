import { describe, expect, it } from 'vitest';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { ManualClock } from '../../../src/clock.js';
import { FakeKeySource, policyFor } from '../../helpers/gateway-fixtures.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function setup(
  options: { maxKeys?: number; ttlMs?: number; negativeTtlMs?: number; negativeMaxKeys?: number } = {},
) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const source = new FakeKeySource();
  const loaded: string[] = [];
  const cache = new KeyPolicyCache({
    source,
    clock,
    maxKeys: options.maxKeys ?? 100,
    ttlMs: options.ttlMs ?? 60_000,
    negativeTtlMs: options.negativeTtlMs ?? 10_000,
    negativeMaxKeys: options.negativeMaxKeys,
    onLoaded: (policy) => loaded.push(policy.tokenHash),
  });
  return { clock, source, cache, loaded };
}

describe('KeyPolicyCache', () => {
  it('concurrent misses of one hash share a single load (single-flight)', async () => {
    const { source, cache } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A));
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.resolve(HASH_A)));
    expect(source.loads).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(cache.lookup(HASH_A)?.tokenHash).toBe(HASH_A);
  });

  it('a hit needs no load, and every fresh load is reported once to onLoaded', async () => {
    const { source, cache, loaded } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A));
    await cache.resolve(HASH_A);
    for (let i = 0; i < 5; i++) expect(cache.lookup(HASH_A)).toBeDefined();
    expect(source.loads).toBe(1);
    expect(loaded).toEqual([HASH_A]);
    expect(cache.stats.hits).toBe(5);
  });

  it('an unknown hash is remembered for the negative TTL, then asked again', async () => {
    const { clock, source, cache } = setup({ negativeTtlMs: 10_000 });
    expect(await cache.resolve(HASH_A)).toEqual({ ok: false, code: 'invalid_api_key' });
    expect(await cache.resolve(HASH_A)).toEqual({ ok: false, code: 'invalid_api_key' });
    expect(source.loads).toBe(1);
    clock.advance(10_001);
    source.policies.set(HASH_A, policyFor(HASH_A));
    expect((await cache.resolve(HASH_A)).ok).toBe(true);
    expect(source.loads).toBe(2);
  });

  it('a flood of unknown well-formed hashes never evicts a real entry', async () => {
    const { source, cache } = setup({ maxKeys: 2, negativeMaxKeys: 2 });
    source.policies.set(HASH_A, policyFor(HASH_A));
    await cache.resolve(HASH_A);
    for (let i = 0; i < 500; i++) await cache.resolve(i.toString(16).padStart(64, '0'));
    expect(cache.size).toBe(1);
    expect(cache.lookup(HASH_A)?.tokenHash).toBe(HASH_A);
  });

  it('the TTL safety net is capped at the key expiry: the entry is re-read then', async () => {
    const { clock, source, cache } = setup({ ttlMs: 60_000 });
    source.policies.set(HASH_A, policyFor(HASH_A, { expiresAt: clock.now() + 5_000 }));
    await cache.resolve(HASH_A);
    clock.advance(4_999);
    expect(cache.lookup(HASH_A)).toBeDefined();
    clock.advance(1);
    expect(cache.lookup(HASH_A)).toBeUndefined();
    source.policies.set(HASH_A, policyFor(HASH_A, { expiresAt: clock.now() + 60_000 }));
    expect((await cache.resolve(HASH_A)).ok).toBe(true);
    expect(source.loads).toBe(2);
  });

  it('after the TTL an entry is reloaded; a key deleted meanwhile is refused', async () => {
    const { clock, source, cache } = setup({ ttlMs: 1_000 });
    source.policies.set(HASH_A, policyFor(HASH_A));
    await cache.resolve(HASH_A);
    source.policies.delete(HASH_A);
    clock.advance(1_000);
    expect(cache.lookup(HASH_A)).toBeUndefined();
    expect(await cache.resolve(HASH_A)).toEqual({ ok: false, code: 'invalid_api_key' });
  });

  it('admin unreachable: a cached (even stale) key keeps working, an uncached one is auth_unavailable', async () => {
    const { clock, source, cache } = setup({ ttlMs: 1_000 });
    source.policies.set(HASH_A, policyFor(HASH_A));
    source.policies.set(HASH_B, policyFor(HASH_B));
    await cache.resolve(HASH_A);
    source.failing = true;
    clock.advance(5_000);
    expect(cache.lookup(HASH_A)).toBeUndefined();
    expect(await cache.resolve(HASH_A)).toMatchObject({ ok: true, policy: { tokenHash: HASH_A } });
    expect(await cache.resolve(HASH_B)).toEqual({ ok: false, code: 'auth_unavailable' });
    // While the source is failing, stale entries are served without asking it again.
    const loads = source.loads;
    expect((await cache.resolve(HASH_A)).ok).toBe(true);
    expect(source.loads).toBe(loads);
  });

  it('a load that started before an invalidation of its key never writes the older policy', async () => {
    const { source, cache } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A, { status: 'active', version: 5 }));
    source.hold();
    const pending = cache.resolve(HASH_A);
    await source.loadStarted(); // the load has read the active policy and is in flight
    // The key is revoked: the admin's state changes and the invalidation arrives first.
    source.policies.set(HASH_A, policyFor(HASH_A, { status: 'revoked', version: 6 }));
    cache.invalidate({ tokenHashes: [HASH_A], keyId: `key_${HASH_A.slice(0, 8)}` });
    source.release();
    const result = await pending;
    expect(result).toMatchObject({ ok: true, policy: { status: 'revoked' } });
    expect(cache.peek(HASH_A)?.status).toBe('revoked');
    expect(cache.stats.discardedLoads).toBe(1);
    expect(source.loads).toBe(2);
  });

  it('a racing invalidation already reflected in the loaded snapshot (seq <= version) does not discard it', async () => {
    const { source, cache } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A, { version: 9 }));
    source.hold();
    const pending = cache.resolve(HASH_A);
    await source.loadStarted();
    cache.invalidate({ tokenHashes: [HASH_A], seq: 9 }); // e.g. the key's creation, re-delivered
    source.release();
    await pending;
    expect(cache.stats.discardedLoads).toBe(0);
    expect(cache.peek(HASH_A)?.version).toBe(9);
  });

  it('a racing invalidation newer than the loaded snapshot (seq > version) discards it', async () => {
    const { source, cache } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A, { version: 9, status: 'active' }));
    source.hold();
    const pending = cache.resolve(HASH_A);
    await source.loadStarted();
    source.policies.set(HASH_A, policyFor(HASH_A, { version: 10, status: 'revoked' }));
    cache.invalidate({ tokenHashes: [HASH_A], seq: 10 });
    source.release();
    expect(await pending).toMatchObject({ ok: true, policy: { status: 'revoked', version: 10 } });
    expect(cache.peek(HASH_A)?.status).toBe('revoked');
  });

  it('a load racing a team invalidation is discarded too (scope known only after the load)', async () => {
    const { source, cache } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A, { effectiveTargets: ['old'] }));
    source.hold();
    const pending = cache.resolve(HASH_A);
    await source.loadStarted();
    source.policies.set(HASH_A, policyFor(HASH_A, { effectiveTargets: ['new'] }));
    cache.invalidate({ teamId: 'team_1' });
    source.release();
    expect(await pending).toMatchObject({ ok: true, policy: { effectiveTargets: ['new'] } });
    expect(cache.peek(HASH_A)?.effectiveTargets).toEqual(['new']);
  });

  it('an invalidation of another key does not discard a load in flight', async () => {
    const { source, cache } = setup();
    source.policies.set(
      HASH_A,
      policyFor(HASH_A, { team: { id: 'team_x', limits: policyFor('x').team.limits, spendMicros: 0 } }),
    );
    source.hold();
    const pending = cache.resolve(HASH_A);
    await source.loadStarted();
    cache.invalidate({ tokenHashes: [HASH_B], keyId: 'key_other', teamId: 'team_1' });
    source.release();
    await pending;
    expect(cache.stats.discardedLoads).toBe(0);
    expect(cache.peek(HASH_A)).toBeDefined();
  });

  it('invalidation evicts by hash, key id, team, org, or everything', async () => {
    const { source, cache } = setup();
    const hashes = ['1', '2', '3', '4'].map((d) => d.repeat(64));
    hashes.forEach((hash, i) =>
      source.policies.set(
        hash,
        policyFor(hash, {
          keyId: `key_${i}`,
          team: { id: `team_${i}`, limits: policyFor(hash).team.limits, spendMicros: 0 },
          org: { id: i < 2 ? 'org_a' : 'org_b', limits: policyFor(hash).org.limits, spendMicros: 0 },
        }),
      ),
    );
    const warm = async () => {
      for (const hash of hashes) await cache.resolve(hash);
    };
    await warm();
    cache.invalidate({ tokenHashes: [hashes[0]!] });
    expect(cache.peek(hashes[0]!)).toBeUndefined();
    cache.invalidate({ keyId: 'key_1' });
    expect(cache.peek(hashes[1]!)).toBeUndefined();
    cache.invalidate({ teamId: 'team_2' });
    expect(cache.peek(hashes[2]!)).toBeUndefined();
    expect(cache.peek(hashes[3]!)).toBeDefined();
    await warm();
    cache.invalidate({ orgId: 'org_a' });
    expect(cache.size).toBe(2);
    cache.invalidate({ all: true });
    expect(cache.size).toBe(0);
  });

  it('an invalidation older than the cached snapshot keeps the entry; a newer one evicts it', async () => {
    const { source, cache } = setup();
    source.policies.set(
      HASH_A,
      policyFor(HASH_A, { version: 7, team: { ...policyFor(HASH_A).team, id: 'team_7' } }),
    );
    await cache.resolve(HASH_A);
    cache.invalidate({ tokenHashes: [HASH_A], keyId: 'key_x', seq: 7 }); // the key's creation, pushed late
    cache.invalidate({ teamId: 'team_7', seq: 5 });
    cache.invalidate({ all: true, seq: 6 });
    expect(cache.peek(HASH_A)).toBeDefined();
    cache.invalidate({ tokenHashes: [HASH_A], seq: 8 });
    expect(cache.peek(HASH_A)).toBeUndefined();
    await cache.resolve(HASH_A);
    cache.invalidate({ teamId: 'team_7', seq: 8 });
    expect(cache.peek(HASH_A)).toBeUndefined();
    await cache.resolve(HASH_A);
    cache.invalidate({ all: true, seq: 8 });
    expect(cache.peek(HASH_A)).toBeUndefined();
  });

  it('a key change also forgets a negatively cached hash (a new secret works at once)', async () => {
    const { source, cache } = setup();
    expect((await cache.resolve(HASH_A)).ok).toBe(false);
    source.policies.set(HASH_A, policyFor(HASH_A));
    cache.invalidate({ tokenHashes: [HASH_A], keyId: 'key_new' });
    expect((await cache.resolve(HASH_A)).ok).toBe(true);
  });
});
