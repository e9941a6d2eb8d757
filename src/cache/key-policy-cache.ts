/**
 * The gateway's in-process cache of resolved key policies (DESIGN.md "Gateway hot path" step 3
 * and "Invalidation"). It promises:
 * - a hit costs one LRU read and one clock read, no I/O, no promise;
 * - one load per hash at a time (single-flight): concurrent misses share it;
 * - unknown hashes are remembered for `negativeTtlMs` in a separate, smaller LRU, so a flood of
 *   made-up (but well-formed) keys can never evict a real entry;
 * - entries are fresh for `ttlMs` (safety net), capped at the key's expiry; a stale entry is
 *   reloaded, and served as is while the key source fails (admin down: cached keys keep working);
 * - a load that started before an invalidation affecting its key never writes its result into
 *   the cache (the stale write-back race of LiteLLM #25553): it is discarded and loaded again,
 *   unless its snapshot is already at least as new as the change (policy.version >= seq).
 */
import type { Clock } from '../clock.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import { BoundedLru } from './bounded-lru.js';
import type { KeySource } from './key-source.js';

export type KeyLookup =
  { ok: true; policy: ResolvedKeyPolicy } | { ok: false; code: 'invalid_api_key' | 'auth_unavailable' };

/** What an invalidation evicts (src/invalidation/change.ts maps changes to these). */
export interface Invalidation {
  tokenHashes?: readonly string[];
  keyId?: string;
  teamId?: string;
  orgId?: string;
  /** Drop everything (target and access-group changes). */
  all?: boolean;
  /**
   * Change-log seq of the change behind this invalidation. A racing load whose policy `version`
   * (the admin's change-log head in the same snapshot) is at least this seq already reflects the
   * change and may be cached; without a seq every racing load is discarded.
   */
  seq?: number;
}

export interface KeyPolicyCacheOptions {
  source: KeySource;
  clock: Clock;
  maxKeys: number;
  ttlMs: number;
  negativeTtlMs: number;
  /** Bound of the negative cache (default min(maxKeys, 10 000)). */
  negativeMaxKeys?: number;
  /** After a failed load, stale entries are served without asking the source for this long. */
  failureBackoffMs?: number;
  /** Loads discarded by racing invalidations are retried up to this many times in total. */
  maxLoadAttempts?: number;
  /** Called with every policy freshly loaded from the source (and written to the cache). */
  onLoaded?: (policy: ResolvedKeyPolicy) => void;
  /**
   * Stale-while-revalidate bound (default 0 = off): an entry up to this long past its TTL is
   * answered at once while one background reload runs (a hung admin plane costs cached keys
   * nothing; KEYGATE_CACHE_STALE_MS). Invalidations still evict at once.
   */
  staleMs?: number;
}

export interface KeyCacheStats {
  hits: number;
  misses: number;
  loads: number;
  loadErrors: number;
  negativeHits: number;
  staleServed: number;
  discardedLoads: number;
  /** Background reloads started by stale-while-revalidate. */
  revalidations: number;
}

type LoadResult = { kind: 'found'; policy: ResolvedKeyPolicy } | { kind: 'unknown' } | { kind: 'error' };

const ERROR_RESULT: LoadResult = { kind: 'error' };
const UNKNOWN_RESULT: LoadResult = { kind: 'unknown' };
const INVALID: KeyLookup = { ok: false, code: 'invalid_api_key' };
const UNAVAILABLE: KeyLookup = { ok: false, code: 'auth_unavailable' };

export class KeyPolicyCache {
  readonly stats: KeyCacheStats = {
    hits: 0,
    misses: 0,
    loads: 0,
    loadErrors: 0,
    negativeHits: 0,
    staleServed: 0,
    discardedLoads: 0,
    revalidations: 0,
  };
  /** Token hash → policy, each stamped with the epoch ms until which it is fresh. */
  private readonly entries: BoundedLru<string, ResolvedKeyPolicy>;
  /** Unknown hash → epoch ms until which it stays unknown. */
  private readonly unknown: BoundedLru<string, number>;
  private readonly inflight = new Map<string, Promise<LoadResult>>();
  /** Invalidation generation: bumped by every invalidation. */
  private epoch = 0;
  /** Invalidations that in-flight loads started before (epoch > oldest in-flight start). */
  private recent: { epoch: number; invalidation: Invalidation }[] = [];
  /** Start epochs of loads in flight (epoch → count). */
  private readonly loadStarts = new Map<number, number>();
  private backoffUntil = 0;
  private readonly failureBackoffMs: number;
  private readonly maxLoadAttempts: number;

  constructor(private readonly options: KeyPolicyCacheOptions) {
    this.entries = new BoundedLru(options.maxKeys);
    this.unknown = new BoundedLru(options.negativeMaxKeys ?? Math.min(options.maxKeys, 10_000));
    this.failureBackoffMs = options.failureBackoffMs ?? 1000;
    this.maxLoadAttempts = options.maxLoadAttempts ?? 3;
  }

  /** The hot path: a fresh cached policy, or undefined (then call `resolve`). */
  lookup(tokenHash: string): ResolvedKeyPolicy | undefined {
    const slot = this.entries.find(tokenHash);
    if (slot >= 0 && this.options.clock.now() < this.entries.stampAt(slot)) {
      this.stats.hits++;
      return this.entries.valueAt(slot);
    }
    this.stats.misses++;
    return undefined;
  }

  /** Miss path: negative cache, then a shared load; stale entries survive source failures. */
  async resolve(tokenHash: string): Promise<KeyLookup> {
    const now = this.options.clock.now();
    const unknownUntil = this.unknown.get(tokenHash);
    if (unknownUntil !== undefined) {
      if (now < unknownUntil) {
        this.stats.negativeHits++;
        return INVALID;
      }
      this.unknown.delete(tokenHash);
    }
    const slot = this.entries.find(tokenHash);
    const stale = slot < 0 ? undefined : this.entries.valueAt(slot);
    if (stale !== undefined) {
      const freshUntil = this.entries.stampAt(slot);
      if (now < freshUntil) return { ok: true, policy: stale };
      if (now < this.backoffUntil) {
        this.stats.staleServed++;
        return { ok: true, policy: stale };
      }
      // Never past the policy's own expiry (key expiry or the end of a regenerate grace period):
      // that answer is due from the source now (an old secret past its grace is unknown there).
      const pastExpiry = stale.expiresAt !== null && now >= stale.expiresAt;
      if (!pastExpiry && now < freshUntil + (this.options.staleMs ?? 0)) {
        this.stats.staleServed++;
        this.stats.revalidations++;
        void this.shared(tokenHash);
        return { ok: true, policy: stale };
      }
    }
    const result = await this.shared(tokenHash);
    if (result.kind === 'found') return { ok: true, policy: result.policy };
    if (result.kind === 'unknown') return INVALID;
    const fallback = this.entries.peek(tokenHash) ?? stale;
    if (fallback !== undefined) {
      this.stats.staleServed++;
      return { ok: true, policy: fallback };
    }
    return UNAVAILABLE;
  }

  /** The one load of this hash in flight, started if none is (single-flight). */
  private shared(tokenHash: string): Promise<LoadResult> {
    let pending = this.inflight.get(tokenHash);
    if (pending === undefined) {
      pending = this.load(tokenHash).finally(() => this.inflight.delete(tokenHash));
      this.inflight.set(tokenHash, pending);
    }
    return pending;
  }

  /**
   * Evicts what the invalidation names; loads in flight that it affects are discarded. An entry
   * whose snapshot is already at least as new as the change (version >= seq) is kept: it
   * reflects the change (e.g. a key's creation pushed after the key was loaded).
   */
  invalidate(invalidation: Invalidation): void {
    this.epoch++;
    if (this.loadStarts.size > 0) this.recent.push({ epoch: this.epoch, invalidation });
    const seq = invalidation.seq;
    const outdated = (policy: ResolvedKeyPolicy): boolean => seq === undefined || policy.version < seq;
    if (invalidation.all === true) {
      if (seq === undefined) this.entries.clear();
      else this.entries.deleteWhere(outdated);
      this.unknown.clear();
      return;
    }
    for (const hash of invalidation.tokenHashes ?? []) {
      const entry = this.entries.peek(hash);
      if (entry !== undefined && outdated(entry)) this.entries.delete(hash);
      this.unknown.delete(hash);
    }
    const { keyId, teamId, orgId } = invalidation;
    if (keyId !== undefined || teamId !== undefined || orgId !== undefined) {
      this.entries.deleteWhere((policy) => outdated(policy) && matchesScope(policy, invalidation));
    }
  }

  /**
   * Bulk loads (warm start, src/cache/key-preloader.ts): `beginBulkLoad` before asking the source,
   * `endBulkLoad` with what it answered. Each policy is cached unless an invalidation since the
   * begin affects it (the same race guard as a single load) or its hash is cached already (a
   * load that ran meanwhile is at least as new). Returns how many were cached.
   */
  beginBulkLoad(): number {
    const startEpoch = this.epoch;
    this.loadStarts.set(startEpoch, (this.loadStarts.get(startEpoch) ?? 0) + 1);
    return startEpoch;
  }

  endBulkLoad(startEpoch: number, policies: readonly ResolvedKeyPolicy[]): number {
    let cached = 0;
    for (const policy of policies) {
      const hash = policy.tokenHash;
      if (this.entries.peek(hash) !== undefined || this.inflight.has(hash)) continue;
      if (this.invalidatedSince(startEpoch, hash, policy)) {
        this.stats.discardedLoads++;
        continue;
      }
      this.entries.set(hash, policy, this.freshUntil(policy));
      this.unknown.delete(hash);
      this.options.onLoaded?.(policy);
      cached++;
    }
    this.endLoad(startEpoch);
    return cached;
  }

  /** Most keys the cache holds. */
  get capacity(): number {
    return this.options.maxKeys;
  }

  /** The cached entry without touching recency or freshness (tests, /readyz). */
  peek(tokenHash: string): ResolvedKeyPolicy | undefined {
    return this.entries.peek(tokenHash);
  }

  get size(): number {
    return this.entries.size;
  }

  get negativeSize(): number {
    return this.unknown.size;
  }

  private async load(tokenHash: string): Promise<LoadResult> {
    for (let attempt = 1; ; attempt++) {
      const startEpoch = this.epoch;
      this.loadStarts.set(startEpoch, (this.loadStarts.get(startEpoch) ?? 0) + 1);
      let policy: ResolvedKeyPolicy | null;
      this.stats.loads++;
      try {
        policy = await this.options.source.load(tokenHash);
      } catch {
        this.endLoad(startEpoch);
        this.stats.loadErrors++;
        this.backoffUntil = this.options.clock.now() + this.failureBackoffMs;
        return ERROR_RESULT;
      }
      const raced = this.invalidatedSince(startEpoch, tokenHash, policy);
      this.endLoad(startEpoch);
      if (raced) {
        this.stats.discardedLoads++;
        if (attempt < this.maxLoadAttempts) continue;
        // Still racing after every attempt: answer this request, cache nothing.
        return policy === null ? UNKNOWN_RESULT : { kind: 'found', policy };
      }
      this.backoffUntil = 0;
      if (policy === null) {
        if (this.options.negativeTtlMs > 0) {
          this.unknown.set(tokenHash, this.options.clock.now() + this.options.negativeTtlMs);
        }
        return UNKNOWN_RESULT;
      }
      this.entries.set(tokenHash, policy, this.freshUntil(policy));
      this.unknown.delete(tokenHash);
      this.options.onLoaded?.(policy);
      return { kind: 'found', policy };
    }
  }

  private freshUntil(policy: ResolvedKeyPolicy): number {
    const now = this.options.clock.now();
    const ttlEnd = now + this.options.ttlMs;
    // Capped at the expiry so the entry is re-read then; an already expired key keeps its
    // full TTL (it stays refused; reloading it on every request would only load the admin).
    return policy.expiresAt !== null && policy.expiresAt > now && policy.expiresAt < ttlEnd
      ? policy.expiresAt
      : ttlEnd;
  }

  private invalidatedSince(startEpoch: number, tokenHash: string, policy: ResolvedKeyPolicy | null): boolean {
    if (this.epoch === startEpoch) return false;
    for (const { epoch, invalidation } of this.recent) {
      if (epoch <= startEpoch) continue;
      if (policy !== null && invalidation.seq !== undefined && invalidation.seq <= policy.version) continue;
      if (invalidation.all === true) return true;
      if (invalidation.tokenHashes?.includes(tokenHash) === true) return true;
      if (policy !== null && matchesScope(policy, invalidation)) return true;
    }
    return false;
  }

  private endLoad(startEpoch: number): void {
    const count = (this.loadStarts.get(startEpoch) ?? 1) - 1;
    if (count > 0) this.loadStarts.set(startEpoch, count);
    else this.loadStarts.delete(startEpoch);
    if (this.loadStarts.size === 0) {
      this.recent = [];
      return;
    }
    let oldest = Infinity;
    for (const start of this.loadStarts.keys()) if (start < oldest) oldest = start;
    if (this.recent.length > 0 && this.recent[0]!.epoch <= oldest) {
      this.recent = this.recent.filter((item) => item.epoch > oldest);
    }
  }
}

function matchesScope(policy: ResolvedKeyPolicy, invalidation: Invalidation): boolean {
  return (
    policy.keyId === invalidation.keyId ||
    policy.team.id === invalidation.teamId ||
    policy.org.id === invalidation.orgId ||
    (invalidation.tokenHashes !== undefined && invalidation.tokenHashes.includes(policy.tokenHash))
  );
}
