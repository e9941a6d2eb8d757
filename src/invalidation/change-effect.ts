/**
 * What one change-log entry means for a gateway (the contract in notes: "Change → what a
 * gateway evicts"): key → its hashes and key id; team / org → every entry of that scope;
 * target / access_group → reload the catalog and drop every cached policy; user → nothing.
 */
import type { Invalidation } from '../cache/key-policy-cache.js';
import type { Change } from './change.js';

export type ChangeEffect =
  { kind: 'evict'; invalidation: Invalidation } | { kind: 'reload_targets' } | { kind: 'none' };

const RELOAD: ChangeEffect = { kind: 'reload_targets' };
const NONE: ChangeEffect = { kind: 'none' };

export function changeEffect(change: Change): ChangeEffect {
  const { seq, tokenHashes, entityId } = change;
  switch (change.entityType) {
    case 'key':
      // The admin lists every hash the key answered to before and after the change, so those
      // name every cached entry of the key: no scan of the whole cache (O(cached keys)) per change.
      return {
        kind: 'evict',
        invalidation: tokenHashes.length > 0 ? { tokenHashes, seq } : { tokenHashes, keyId: entityId, seq },
      };
    case 'team':
      return { kind: 'evict', invalidation: { teamId: entityId, tokenHashes, seq } };
    case 'org':
      return { kind: 'evict', invalidation: { orgId: entityId, tokenHashes, seq } };
    case 'target':
    case 'access_group':
      return RELOAD;
    case 'user':
      return tokenHashes.length > 0 ? { kind: 'evict', invalidation: { tokenHashes, seq } } : NONE;
  }
}
