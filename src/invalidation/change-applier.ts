/**
 * Applies one change to a gateway's key cache and target catalog (the `apply` of a
 * ChangeFollower): evictions as changeEffect says, and then a refresh-ahead of the token hashes
 * the change evicted from the cache. Those keys were in use a moment ago, so their next request
 * would miss and wait for a load from the admin plane; starting that load right at the eviction
 * means a revoked key's next request finds its revoked policy loaded (or joins the load in
 * flight) instead of paying a whole round trip after the fact. The load starts after the
 * eviction, so it reads the committed change (no stale write-back).
 */
import type { Invalidation, KeyLookup } from '../cache/key-policy-cache.js';
import { changeEffect } from './change-effect.js';
import type { Change } from './change.js';

/** What the applier needs of KeyPolicyCache. */
export interface ApplierKeyCache {
  peek(tokenHash: string): unknown;
  invalidate(invalidation: Invalidation): void;
  resolve(tokenHash: string): Promise<KeyLookup>;
}

export interface ChangeApplierOptions {
  keys: ApplierKeyCache;
  /** Reloads the target catalog (target and access-group changes). */
  reloadTargets: () => Promise<unknown>;
  /** At most this many hashes are reloaded ahead per change (default 32); the rest load on use. */
  refreshAheadLimit?: number;
}

export function changeApplier(options: ChangeApplierOptions): (change: Change) => Promise<void> {
  const { keys } = options;
  const limit = options.refreshAheadLimit ?? 32;
  return async (change) => {
    const effect = changeEffect(change);
    if (effect.kind === 'evict') {
      const hashes = effect.invalidation.tokenHashes ?? [];
      const cached = hashes.filter((hash) => keys.peek(hash) !== undefined);
      keys.invalidate(effect.invalidation);
      let started = 0;
      for (const hash of cached) {
        if (started >= limit) break;
        if (keys.peek(hash) !== undefined) continue; // kept: its snapshot already had the change
        started++;
        keys.resolve(hash).catch(() => undefined);
      }
    } else if (effect.kind === 'reload_targets') {
      keys.invalidate({ all: true, seq: change.seq });
      await options.reloadTargets();
    }
  };
}
