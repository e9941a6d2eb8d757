/**
 * Warm start (issue 15): right after a gateway starts, the keys used most recently are loaded
 * from the admin plane in pages (`GET /internal/keys?after=&limit=`, most recent first) and put
 * into the key cache, up to `KEYGATE_PRELOAD_KEYS` (0 = off). The gateway serves meanwhile: a
 * request for a key not preloaded yet is an ordinary miss. `/readyz` shows the progress.
 *
 * Pages enter the cache through KeyPolicyCache.prime, which applies the same invalidation race
 * guard as a single load (a policy an invalidation touched after its page was requested is
 * dropped, not cached) and never replaces an entry already loaded meanwhile.
 *
 * A page that fails is retried (`retryDelayMs`, `maxRetries` times in a row); after that the
 * preload stops where it is, recording the error (the cache simply stays partly warm).
 */
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import type { KeyPolicyCache } from './key-policy-cache.js';

export interface RecentKeysPage {
  policies: ResolvedKeyPolicy[];
  /** Cursor of the next page; null at the end. */
  next: string | null;
}

export interface RecentKeySource {
  recentKeys(after: string | null, limit: number): Promise<RecentKeysPage>;
}

export interface PreloadProgress {
  /** Keys asked for (KEYGATE_PRELOAD_KEYS, capped at the cache size). */
  target: number;
  /** Policies received so far. */
  loaded: number;
  /** Of those, put into the cache (the rest were raced by invalidations or already cached). */
  cached: number;
  done: boolean;
  /** Milliseconds from start to done (null while running). */
  tookMs: number | null;
  error: string | null;
}

export interface KeyPreloaderOptions {
  source: RecentKeySource;
  cache: KeyPolicyCache;
  keys: number;
  pageSize?: number;
  retryDelayMs?: number;
  maxRetries?: number;
  /** Milliseconds clock for tookMs (performance.now by default). */
  now?: () => number;
}

export class KeyPreloader {
  readonly progress: PreloadProgress;
  private readonly pageSize: number;
  private stopped = false;

  constructor(private readonly options: KeyPreloaderOptions) {
    const target = Math.max(0, Math.min(options.keys, options.cache.capacity));
    this.progress = { target, loaded: 0, cached: 0, done: target === 0, tookMs: null, error: null };
    this.pageSize = options.pageSize ?? 1000;
  }

  /** Ends the preload after the page in flight (the gateway is closing). */
  stop(): void {
    this.stopped = true;
  }

  /** Loads page after page until the target, the end of the keys or a lasting failure. */
  async run(): Promise<PreloadProgress> {
    const { source, cache } = this.options;
    const now = this.options.now ?? (() => performance.now());
    const started = now();
    const progress = this.progress;
    let after: string | null = null;
    let failures = 0;
    while (!progress.done && !this.stopped) {
      const limit = Math.min(this.pageSize, progress.target - progress.loaded);
      const bulk = cache.beginBulkLoad();
      let page: RecentKeysPage;
      try {
        page = await source.recentKeys(after, limit);
      } catch (error) {
        cache.endBulkLoad(bulk, []);
        if (this.stopped || ++failures > (this.options.maxRetries ?? 5)) {
          progress.error = error instanceof Error ? error.message : String(error);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 500));
        continue;
      }
      failures = 0;
      if (this.stopped) {
        cache.endBulkLoad(bulk, []);
        break;
      }
      const policies = page.policies.slice(0, limit);
      progress.cached += cache.endBulkLoad(bulk, policies);
      progress.loaded += policies.length;
      after = page.next;
      if (after === null || progress.loaded >= progress.target) progress.done = true;
    }
    progress.done = true;
    progress.tookMs = Math.round(now() - started);
    return progress;
  }
}
