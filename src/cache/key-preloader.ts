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
 *
 * The next page is asked for as soon as its cursor is known, before this page's policies are
 * parsed and cached (the admin plane sends the cursor in a header, `x-keygate-next`): the admin
 * plane reads the next page from SQLite while the gateway handles this one, so on two cores the
 * preload takes about the admin's time rather than the sum of both (issue 15: ≤ 5 s for 100,000).
 */
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import type { KeyPolicyCache } from './key-policy-cache.js';

export interface RecentKeysPage {
  /** The page's policies; a promise when they are still arriving while `next` is already known. */
  policies: ResolvedKeyPolicy[] | Promise<ResolvedKeyPolicy[]>;
  /** Cursor of the next page; null at the end. */
  next: string | null;
}

/** One page asked for: its request, and the bulk load of the cache it belongs to. */
interface PageRequest {
  after: string | null;
  limit: number;
  bulk: number;
  page: Promise<RecentKeysPage>;
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
    const now = this.options.now ?? (() => performance.now());
    const started = now();
    const progress = this.progress;
    let failures = 0;
    let current: PageRequest | undefined = progress.done ? undefined : this.ask(null, this.limitAfter(0));
    while (current !== undefined && !this.stopped) {
      let next: PageRequest | undefined;
      let policies: ResolvedKeyPolicy[];
      try {
        const page = await current.page;
        // A full page has `limit` policies: the next one may be asked for before reading them.
        const limit = this.limitAfter(progress.loaded + current.limit);
        if (page.next !== null && limit > 0 && !this.stopped) next = this.ask(page.next, limit);
        policies = (await page.policies).slice(0, current.limit);
      } catch (error) {
        this.options.cache.endBulkLoad(current.bulk, []);
        if (next !== undefined) this.drop(next);
        if (this.stopped || ++failures > (this.options.maxRetries ?? 5)) {
          progress.error = error instanceof Error ? error.message : String(error);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 500));
        current = this.ask(current.after, current.limit);
        continue;
      }
      failures = 0;
      if (this.stopped) {
        this.options.cache.endBulkLoad(current.bulk, []);
        if (next !== undefined) this.drop(next);
        break;
      }
      progress.cached += this.options.cache.endBulkLoad(current.bulk, policies);
      progress.loaded += policies.length;
      // (A short page that still named a next one made the next ask for less than it could: the
      // page after it asks for the rest.)
      current = next;
    }
    progress.done = true;
    progress.tookMs = Math.round(now() - started);
    return progress;
  }

  /** How many keys the page after `loaded` keys may ask for (0: the target is reached). */
  private limitAfter(loaded: number): number {
    return Math.max(0, Math.min(this.pageSize, this.progress.target - loaded));
  }

  private ask(after: string | null, limit: number): PageRequest {
    const bulk = this.options.cache.beginBulkLoad();
    return { after, limit, bulk, page: this.options.source.recentKeys(after, limit) };
  }

  /** A page asked for and no longer wanted: its bulk load ends empty whatever its answer. */
  private drop(request: PageRequest): void {
    const end = (): void => void this.options.cache.endBulkLoad(request.bulk, []);
    request.page.then((page) => Promise.resolve(page.policies)).then(end, end);
  }
}
