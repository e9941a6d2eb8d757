/**
 * Warm start (issue 15): KeyPreloader fills the cache page by page up to its target, reports its
 * progress, keeps the invalidation race guard, never replaces an entry loaded meanwhile, and
 * survives a failing admin plane (retries, then stops with the error).
 */
import { describe, expect, it } from 'vitest';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { KeyPreloader, type RecentKeySource, type RecentKeysPage } from '../../../src/cache/key-preloader.js';
import { ManualClock } from '../../../src/clock.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { FakeKeySource, policyFor } from '../../helpers/gateway-fixtures.js';

const hash = (i: number): string => i.toString(16).padStart(64, '0');

/** `count` keys, most recent first; `beforePage` runs while a page is "in flight". */
class FakeRecent implements RecentKeySource {
  readonly limits: number[] = [];
  failures = 0;
  beforePage: ((after: string | null) => void) | undefined;
  constructor(readonly policies: ResolvedKeyPolicy[]) {}

  async recentKeys(after: string | null, limit: number): Promise<RecentKeysPage> {
    this.limits.push(limit);
    const from = after === null ? 0 : Number(after);
    const page = this.policies.slice(from, from + limit);
    await Promise.resolve();
    this.beforePage?.(after);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('admin plane unreachable');
    }
    const next = from + limit < this.policies.length ? String(from + limit) : null;
    return { policies: page, next };
  }
}

function setup(keys: number, options: { maxKeys?: number; target?: number } = {}) {
  const single = new FakeKeySource();
  const loaded: string[] = [];
  const cache = new KeyPolicyCache({
    source: single,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    maxKeys: options.maxKeys ?? 100_000,
    ttlMs: 60_000,
    negativeTtlMs: 10_000,
    onLoaded: (policy) => loaded.push(policy.tokenHash),
  });
  const recent = new FakeRecent(Array.from({ length: keys }, (_, i) => policyFor(hash(i), { version: 5 })));
  const preloader = new KeyPreloader({
    source: recent,
    cache,
    keys: options.target ?? 10_000,
    pageSize: 1000,
    retryDelayMs: 1,
    maxRetries: 2,
  });
  return { single, cache, recent, preloader, loaded };
}

describe('KeyPreloader', () => {
  it('loads up to its target in pages, caches each policy (onLoaded too), and reports progress', async () => {
    const { cache, recent, preloader, loaded, single } = setup(3_500, { target: 2_500 });
    expect(preloader.progress).toMatchObject({ target: 2_500, loaded: 0, done: false });
    const progress = await preloader.run();
    expect(recent.limits).toEqual([1000, 1000, 500]);
    expect(progress).toMatchObject({ target: 2_500, loaded: 2_500, cached: 2_500, done: true, error: null });
    expect(progress.tookMs).toBeGreaterThanOrEqual(0);
    expect(cache.size).toBe(2_500);
    expect(loaded).toHaveLength(2_500);
    expect(cache.lookup(hash(0))).toBeDefined();
    expect(cache.lookup(hash(2_600))).toBeUndefined();
    expect(single.loads).toBe(0);
  });

  it('stops at the end of the keys, and never asks for more than the cache holds', async () => {
    const short = setup(1_200);
    expect(await short.preloader.run()).toMatchObject({ target: 10_000, loaded: 1_200, done: true });
    const small = setup(5_000, { maxKeys: 1_500 });
    expect((await small.preloader.run()).loaded).toBe(1_500);
    expect(small.cache.size).toBe(1_500);
  });

  it('a policy invalidated while its page was in flight is not cached (race guard); others are', async () => {
    const { cache, recent, preloader } = setup(2_000);
    recent.beforePage = (after) => {
      if (after === '1000') cache.invalidate({ tokenHashes: [hash(1_500)], seq: 6 });
    };
    const progress = await preloader.run();
    expect(progress).toMatchObject({ loaded: 2_000, cached: 1_999 });
    expect(cache.peek(hash(1_500))).toBeUndefined();
    expect(cache.peek(hash(1_501))).toBeDefined();
    expect(cache.stats.discardedLoads).toBe(1);
  });

  it('an entry loaded meanwhile (newer) is kept, not replaced by the page', async () => {
    const { cache, single, recent, preloader } = setup(1_000);
    single.policies.set(hash(3), policyFor(hash(3), { version: 9, status: 'revoked' }));
    recent.beforePage = () => void 0;
    await cache.resolve(hash(3));
    const progress = await preloader.run();
    expect(progress.cached).toBe(999);
    expect(cache.peek(hash(3))).toMatchObject({ version: 9, status: 'revoked' });
  });

  it('retries a failed page, then gives up after maxRetries in a row with the error recorded', async () => {
    const flaky = setup(1_500);
    flaky.recent.failures = 2;
    expect(await flaky.preloader.run()).toMatchObject({ loaded: 1_500, done: true, error: null });
    const down = setup(1_500);
    down.recent.failures = 100;
    expect(await down.preloader.run()).toMatchObject({
      loaded: 0,
      done: true,
      error: 'admin plane unreachable',
    });
    expect(down.cache.size).toBe(0);
  });

  it('asks for the next page as soon as its cursor is known, before this page has arrived; a page cut while arriving is asked again', async () => {
    const { cache } = setup(0);
    const all = Array.from({ length: 2_500 }, (_, i) => policyFor(hash(i), { version: 5 }));
    const asked: (string | null)[] = [];
    const arriving: { resolve: () => void; reject: (error: Error) => void }[] = [];
    // Like the admin client: the cursor comes with the answer's headers, the policies after.
    const source: RecentKeySource = {
      recentKeys: (after, limit) => {
        asked.push(after);
        const from = after === null ? 0 : Number(after);
        const policies = new Promise<ResolvedKeyPolicy[]>((resolve, reject) =>
          arriving.push({ resolve: () => resolve(all.slice(from, from + limit)), reject }),
        );
        const next = from + limit < all.length ? String(from + limit) : null;
        return Promise.resolve({ policies, next });
      },
    };
    const preloader = new KeyPreloader({ source, cache, keys: 2_500, pageSize: 1000, retryDelayMs: 1 });
    const run = preloader.run();
    /** Waits (turns of the event loop, the 1 ms retry delay) until `count` pages were asked for. */
    const askedFor = async (count: number): Promise<(string | null)[]> => {
      for (let turns = 0; asked.length < count && turns < 1000; turns++)
        await new Promise((resolve) => setTimeout(resolve, 1));
      return asked;
    };
    expect(await askedFor(2)).toEqual([null, '1000']); // the second page asked while the first is still arriving
    arriving[0]!.resolve();
    expect(await askedFor(3)).toEqual([null, '1000', '2000']);
    arriving[1]!.reject(new Error('admin plane answer cut'));
    // The cut page asked again (its next one with it); the third page asked before the cut is dropped.
    expect(await askedFor(5)).toEqual([null, '1000', '2000', '1000', '2000']);
    for (const page of arriving.slice(2)) page.resolve();
    expect(await run).toMatchObject({ loaded: 2_500, cached: 2_500, done: true, error: null });
    expect(cache.size).toBe(2_500);
  });

  it('a preload of 0 keys is done at once', async () => {
    const { preloader, recent } = setup(10, { target: 0 });
    expect(await preloader.run()).toMatchObject({ target: 0, loaded: 0, done: true });
    expect(recent.limits).toEqual([]);
  });
});
