/**
 * A KeySource that coalesces concurrent loads into batches (issue 15): a cold gateway facing
 * thousands of new keys at once asks the admin plane for up to `maxBatch` hashes per call
 * (`POST /internal/keys`) instead of one call per key.
 *
 * It sits UNDER KeyPolicyCache, which keeps what it promises unchanged: the cache's single-flight
 * still lets one load per hash reach this loader (so a hash is in at most one pending batch), and
 * every `load(hash)` still resolves separately, so the cache's invalidation race guard judges
 * each policy on its own start epoch exactly as with one call per key.
 *
 * When a batch is sent: as soon as `maxBatch` hashes wait, otherwise `windowMs` after the first
 * hash of the batch arrived (0 = at the end of the current event-loop turn, setImmediate). At most
 * `maxInFlight` batches travel at once; the hashes arriving meanwhile wait and leave together when
 * one returns (under load, batches grow instead of calls multiplying). A failed batch rejects the
 * loads of all its hashes (the cache then serves stale entries or auth_unavailable, as before).
 */
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import type { KeySource } from './key-source.js';

/** The admin client's batch call: one policy (or null = unknown) per hash, in order. */
export interface BatchKeySource {
  loadMany(tokenHashes: readonly string[]): Promise<(ResolvedKeyPolicy | null)[]>;
}

export interface BatchLoaderOptions {
  source: BatchKeySource;
  /** Most hashes per call (default 256). */
  maxBatch?: number;
  /** How long the first hash of a batch waits for company (default 2 ms; 0 = this loop turn). */
  windowMs?: number;
  /** Batches travelling at once (default 4). */
  maxInFlight?: number;
}

interface Waiter {
  resolve: (policy: ResolvedKeyPolicy | null) => void;
  reject: (error: unknown) => void;
}

export class BatchLoader implements KeySource {
  /** Batches sent and hashes carried (metrics, tests). */
  readonly stats = { batches: 0, hashes: 0 };
  private readonly maxBatch: number;
  private readonly windowMs: number;
  private readonly maxInFlight: number;
  private waiting = new Map<string, Waiter[]>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private inFlight = 0;

  constructor(private readonly options: BatchLoaderOptions) {
    this.maxBatch = options.maxBatch ?? 256;
    this.windowMs = options.windowMs ?? 2;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  load(tokenHash: string): Promise<ResolvedKeyPolicy | null> {
    return new Promise((resolve, reject) => {
      const waiters = this.waiting.get(tokenHash);
      if (waiters !== undefined) waiters.push({ resolve, reject });
      else this.waiting.set(tokenHash, [{ resolve, reject }]);
      if (this.waiting.size >= this.maxBatch) this.flush();
      else this.schedule();
    });
  }

  /** Hashes waiting for a batch (tests). */
  get pending(): number {
    return this.waiting.size;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.immediate !== undefined || this.inFlight >= this.maxInFlight) return;
    if (this.windowMs > 0) this.timer = setTimeout(() => this.flush(), this.windowMs);
    else this.immediate = setImmediate(() => this.flush());
  }

  private flush(): void {
    this.clearTimer();
    while (this.waiting.size > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.take();
      this.inFlight++;
      this.stats.batches++;
      this.stats.hashes += batch.size;
      void this.send(batch);
      if (this.waiting.size < this.maxBatch) break;
    }
    if (this.waiting.size > 0) this.schedule();
  }

  /** Up to maxBatch waiting hashes, in arrival order. */
  private take(): Map<string, Waiter[]> {
    if (this.waiting.size <= this.maxBatch) {
      const all = this.waiting;
      this.waiting = new Map();
      return all;
    }
    const batch = new Map<string, Waiter[]>();
    for (const [hash, waiters] of this.waiting) {
      batch.set(hash, waiters);
      this.waiting.delete(hash);
      if (batch.size === this.maxBatch) break;
    }
    return batch;
  }

  private async send(batch: Map<string, Waiter[]>): Promise<void> {
    const hashes = [...batch.keys()];
    try {
      const policies = await this.options.source.loadMany(hashes);
      if (policies.length !== hashes.length) {
        throw new Error(`batch of ${hashes.length} hashes answered with ${policies.length} policies`);
      }
      for (let i = 0; i < hashes.length; i++) {
        for (const waiter of batch.get(hashes[i]!)!) waiter.resolve(policies[i] ?? null);
      }
    } catch (error) {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
    } finally {
      this.inFlight--;
      // Hashes that waited for a free slot have waited long enough: they leave now.
      if (this.waiting.size > 0) this.flush();
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
