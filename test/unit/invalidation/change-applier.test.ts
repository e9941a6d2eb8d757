import { describe, expect, it } from 'vitest';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { ManualClock } from '../../../src/clock.js';
import { changeApplier } from '../../../src/invalidation/change-applier.js';
import type { Change } from '../../../src/invalidation/change.js';
import { FakeKeySource, policyFor } from '../../helpers/gateway-fixtures.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function keyChange(seq: number, tokenHashes: string[], entityId = 'key_x'): Change {
  return { seq, at: 0, entityType: 'key', entityId, tokenHashes };
}

function setup(refreshAheadLimit?: number) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const source = new FakeKeySource();
  const keys = new KeyPolicyCache({ source, clock, maxKeys: 100, ttlMs: 60_000, negativeTtlMs: 10_000 });
  let targetReloads = 0;
  const apply = changeApplier({
    keys,
    reloadTargets: async () => void targetReloads++,
    refreshAheadLimit,
  });
  return { source, keys, apply, targetReloads: () => targetReloads };
}

/** Lets the loads started by `apply` (promises, no timers) finish. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('changeApplier', () => {
  it('a revoked cached key is reloaded at the eviction: its next request hits the revoked policy without a load', async () => {
    const { source, keys, apply } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A));
    await keys.resolve(HASH_A);
    expect(source.loads).toBe(1);

    source.policies.set(HASH_A, policyFor(HASH_A, { status: 'revoked', version: 2 }));
    await apply(keyChange(2, [HASH_A]));
    expect(source.loads).toBe(2); // started by the change itself, not by a request
    await settle();

    expect(keys.lookup(HASH_A)?.status).toBe('revoked');
    expect(source.loads).toBe(2);
  });

  it('a request arriving while the reload-ahead is in flight joins it (one load, sees the change)', async () => {
    const { source, keys, apply } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A));
    await keys.resolve(HASH_A);
    source.policies.set(HASH_A, policyFor(HASH_A, { status: 'revoked', version: 2 }));
    source.hold();
    await apply(keyChange(2, [HASH_A]));
    expect(keys.lookup(HASH_A)).toBeUndefined();
    const request = keys.resolve(HASH_A);
    source.release();
    const answer = await request;
    expect(answer.ok && answer.policy.status).toBe('revoked');
    expect(source.loads).toBe(2);
  });

  it('hashes that were not cached are not loaded (a change never makes the gateway load unused keys)', async () => {
    const { source, apply } = setup();
    source.policies.set(HASH_B, policyFor(HASH_B));
    await apply(keyChange(1, [HASH_B]));
    await settle();
    expect(source.loads).toBe(0);
  });

  it('an entry whose snapshot already has the change is kept and not reloaded', async () => {
    const { source, keys, apply } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A, { version: 5 }));
    await keys.resolve(HASH_A);
    await apply(keyChange(4, [HASH_A]));
    await settle();
    expect(source.loads).toBe(1);
    expect(keys.peek(HASH_A)?.version).toBe(5);
  });

  it('reloads ahead at most refreshAheadLimit hashes per change; the others load on use', async () => {
    const { source, keys, apply } = setup(1);
    for (const hash of [HASH_A, HASH_B]) {
      source.policies.set(hash, policyFor(hash));
      await keys.resolve(hash);
    }
    await apply(keyChange(2, [HASH_A, HASH_B]));
    await settle();
    expect(source.loads).toBe(3);
    expect(keys.peek(HASH_A)).toBeDefined();
    expect(keys.peek(HASH_B)).toBeUndefined();
  });

  it('a failing admin plane during the reload-ahead is harmless (no rejection, the entry stays evicted)', async () => {
    const { source, keys, apply } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A));
    await keys.resolve(HASH_A);
    source.failing = true;
    await apply(keyChange(2, [HASH_A]));
    await settle();
    expect(keys.peek(HASH_A)).toBeUndefined();
  });

  it('target and access-group changes drop every cached policy and reload the catalog', async () => {
    const { source, keys, apply, targetReloads } = setup();
    source.policies.set(HASH_A, policyFor(HASH_A));
    await keys.resolve(HASH_A);
    await apply({ seq: 2, at: 0, entityType: 'target', entityId: 'tgt_1', tokenHashes: [] });
    expect(keys.peek(HASH_A)).toBeUndefined();
    expect(targetReloads()).toBe(1);
  });
});
