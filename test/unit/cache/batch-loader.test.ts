/**
 * BatchLoader under KeyPolicyCache (issue 15): concurrent misses become one batch call (up to
 * maxBatch hashes), single-flight per hash holds through the batch, and the cache's invalidation
 * race guard still judges every policy of a batch on its own.
 */
import { describe, expect, it } from 'vitest';
import { BatchLoader, type BatchKeySource } from '../../../src/cache/batch-loader.js';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { ManualClock } from '../../../src/clock.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { policyFor } from '../../helpers/gateway-fixtures.js';

const hash = (i: number): string => i.toString(16).padStart(64, '0');

/** Answers from `policies` as read when the call starts; `hold()` keeps calls waiting. */
class FakeBatchSource implements BatchKeySource {
  readonly policies = new Map<string, ResolvedKeyPolicy>();
  readonly calls: string[][] = [];
  failing = false;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  private started: (() => void) | undefined;

  async loadMany(hashes: readonly string[]): Promise<(ResolvedKeyPolicy | null)[]> {
    this.calls.push([...hashes]);
    const answer = hashes.map((h) => this.policies.get(h) ?? null);
    const failing = this.failing;
    this.started?.();
    if (this.gate !== undefined) await this.gate;
    if (failing) throw new Error('admin plane unreachable');
    return answer;
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.open?.();
  }

  callStarted(): Promise<void> {
    return new Promise((resolve) => (this.started = resolve));
  }
}

function setup(options: { maxBatch?: number; windowMs?: number; maxInFlight?: number } = {}) {
  const source = new FakeBatchSource();
  const loader = new BatchLoader({ source, ...options });
  const cache = new KeyPolicyCache({
    source: loader,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    maxKeys: 10_000,
    ttlMs: 60_000,
    negativeTtlMs: 10_000,
  });
  return { source, loader, cache };
}

describe('BatchLoader', () => {
  it('600 concurrent misses (each hash asked 3 times) become 3 calls of at most 256 distinct hashes', async () => {
    const { source, cache, loader } = setup({ maxBatch: 256 });
    for (let i = 0; i < 600; i++) if (i % 10 !== 0) source.policies.set(hash(i), policyFor(hash(i)));
    const asks = [];
    for (let round = 0; round < 3; round++) for (let i = 0; i < 600; i++) asks.push(cache.resolve(hash(i)));
    const results = await Promise.all(asks);
    expect(source.calls.map((call) => call.length)).toEqual([256, 256, 88]);
    // Single-flight per hash: every hash travelled exactly once.
    expect(new Set(source.calls.flat()).size).toBe(600);
    expect(loader.stats).toEqual({ batches: 3, hashes: 600 });
    expect(results.filter((r) => r.ok)).toHaveLength(3 * 540);
    expect(results.filter((r) => !r.ok && r.code === 'invalid_api_key')).toHaveLength(3 * 60);
    expect(cache.size).toBe(540);
  });

  it('misses within the window share one call; a later miss makes its own', async () => {
    const { source, cache } = setup({ windowMs: 5 });
    for (let i = 0; i < 3; i++) source.policies.set(hash(i), policyFor(hash(i)));
    const first = [cache.resolve(hash(0)), cache.resolve(hash(1))];
    await new Promise((resolve) => setTimeout(resolve, 1));
    first.push(cache.resolve(hash(2)));
    await Promise.all(first);
    expect(source.calls).toEqual([[hash(0), hash(1), hash(2)]]);
    await cache.resolve(hash(3));
    expect(source.calls).toHaveLength(2);
  });

  it('while maxInFlight calls travel, new misses wait and leave together when one returns', async () => {
    const { source, cache } = setup({ windowMs: 0, maxInFlight: 1 });
    for (let i = 0; i < 5; i++) source.policies.set(hash(i), policyFor(hash(i)));
    source.hold();
    const started = source.callStarted();
    const first = cache.resolve(hash(0));
    await started;
    const later = [1, 2, 3, 4].map((i) => cache.resolve(hash(i)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(source.calls).toHaveLength(1);
    source.release();
    await Promise.all([first, ...later]);
    expect(source.calls).toEqual([[hash(0)], [hash(1), hash(2), hash(3), hash(4)]]);
  });

  it('an invalidation racing a batch discards only the policy it affects, which is loaded again', async () => {
    const { source, cache } = setup({ windowMs: 0 });
    source.policies.set(hash(1), policyFor(hash(1), { version: 5 }));
    source.policies.set(hash(2), policyFor(hash(2), { version: 5 }));
    source.hold();
    const started = source.callStarted();
    const pending = [cache.resolve(hash(1)), cache.resolve(hash(2))];
    await started; // the batch has read both active policies and is in flight
    source.policies.set(hash(1), policyFor(hash(1), { version: 6, status: 'revoked' }));
    cache.invalidate({ tokenHashes: [hash(1)], seq: 6 });
    source.release();
    const [one, two] = await Promise.all(pending);
    expect(one).toMatchObject({ ok: true, policy: { status: 'revoked', version: 6 } });
    expect(two).toMatchObject({ ok: true, policy: { status: 'active', version: 5 } });
    expect(cache.peek(hash(1))?.status).toBe('revoked');
    expect(cache.stats.discardedLoads).toBe(1);
    expect(source.calls).toEqual([[hash(1), hash(2)], [hash(1)]]);
  });

  it('a failed call fails every load of its batch (auth_unavailable), and the next batch works', async () => {
    const { source, cache } = setup({ windowMs: 0 });
    for (let i = 0; i < 4; i++) source.policies.set(hash(i), policyFor(hash(i)));
    source.failing = true;
    const failed = await Promise.all([cache.resolve(hash(0)), cache.resolve(hash(1))]);
    expect(failed).toEqual([
      { ok: false, code: 'auth_unavailable' },
      { ok: false, code: 'auth_unavailable' },
    ]);
    source.failing = false;
    // The cache's failure backoff does not apply to hashes it has never cached.
    expect((await cache.resolve(hash(2))).ok).toBe(true);
  });

  it('an answer of the wrong length fails the batch rather than misattributing policies', async () => {
    const loader = new BatchLoader({ source: { loadMany: () => Promise.resolve([null]) }, windowMs: 0 });
    await expect(Promise.all([loader.load(hash(1)), loader.load(hash(2))])).rejects.toThrow(
      /answered with 1/,
    );
  });
});
