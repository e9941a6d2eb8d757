import { describe, expect, it } from 'vitest';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import type { KeySource } from '../../../src/cache/key-source.js';
import { ManualClock } from '../../../src/clock.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { policyFor } from '../../helpers/gateway-fixtures.js';

const HASH = 'a'.repeat(64);

/** A key source that answers once, then hangs (a SIGSTOPped admin plane) until released. */
class HangingSource implements KeySource {
  loads = 0;
  hang = false;
  private waiting: ((policy: ResolvedKeyPolicy) => void)[] = [];
  load(tokenHash: string): Promise<ResolvedKeyPolicy | null> {
    this.loads++;
    if (!this.hang) return Promise.resolve(policyFor(tokenHash));
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(policy: ResolvedKeyPolicy): void {
    this.waiting.splice(0).forEach((resolve) => resolve(policy));
  }
}

function setup(staleMs: number) {
  const clock = new ManualClock();
  const source = new HangingSource();
  const cache = new KeyPolicyCache({ source, clock, maxKeys: 10, ttlMs: 60_000, negativeTtlMs: 0, staleMs });
  return { clock, source, cache };
}

describe('KeyPolicyCache stale-while-revalidate', () => {
  it('a hung key source costs an expired cached key nothing: answered at once, one reload in the background', async () => {
    const { clock, source, cache } = setup(300_000);
    await cache.resolve(HASH);
    source.hang = true;
    clock.advance(60_001);
    const answers = await Promise.all(Array.from({ length: 50 }, () => cache.resolve(HASH)));
    expect(answers.every((answer) => answer.ok)).toBe(true);
    expect(source.loads, 'one background reload for 50 requests').toBe(2);
    expect(cache.stats.staleServed).toBe(50);
    source.release(policyFor(HASH, { version: 7 }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(cache.lookup(HASH)?.version, 'the reload refreshed the entry').toBe(7);
  });

  it('past the stale bound the request waits for the reload again (bounded staleness)', async () => {
    const { clock, source, cache } = setup(1000);
    await cache.resolve(HASH);
    source.hang = true;
    clock.advance(60_000 + 1000);
    let settled = false;
    void cache.resolve(HASH).then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    source.release(policyFor(HASH));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(true);
  });

  it('an invalidation still evicts a stale entry at once (revocations are not served stale)', async () => {
    const { clock, source, cache } = setup(300_000);
    await cache.resolve(HASH);
    clock.advance(60_001);
    cache.invalidate({ tokenHashes: [HASH] });
    source.hang = true;
    let settled = false;
    void cache.resolve(HASH).then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled, 'no stale answer after an eviction').toBe(false);
    source.release(policyFor(HASH, { status: 'revoked' }));
  });

  it('an entry past its own expiry (a regenerate grace period that ended) is not served stale: the source answers', async () => {
    const clock = new ManualClock();
    const source = new HangingSource();
    const cache = new KeyPolicyCache({
      source,
      clock,
      maxKeys: 10,
      ttlMs: 60_000,
      negativeTtlMs: 0,
      staleMs: 300_000,
    });
    const graceEnd = clock.now() + 1000;
    source.load = (tokenHash: string) => {
      source.loads++;
      return Promise.resolve(source.loads === 1 ? policyFor(tokenHash, { expiresAt: graceEnd }) : null);
    };
    expect((await cache.resolve(HASH)).ok).toBe(true);
    clock.advance(1001);
    const after = await cache.resolve(HASH);
    expect(after.ok ? 'served stale' : after.code).toBe('invalid_api_key');
    expect(source.loads).toBe(2);
  });
});
