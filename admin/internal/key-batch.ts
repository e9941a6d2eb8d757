/**
 * Many key policies per call (issue 15), for gateways that face many keys at once:
 * - `resolveKeyPolicies`: `POST /internal/keys` `{hashes}` → one policy (or null) per hash, in
 *   order; a gateway's concurrent cache misses travel as one such batch (src/cache/batch-loader.ts).
 * - `recentKeyPolicies`: `GET /internal/keys?after=&limit=` → a page of the active keys used most
 *   recently (last_used_at descending, then key num), for a gateway's warm start
 *   (src/cache/key-preloader.ts). `next` is the cursor of the following page, null at the end.
 *
 * Both resolve their keys with resolveKeyPolicyBatch inside one read transaction, so the whole
 * answer is one snapshot (one `version`) and SQLite takes its read lock once; the key rows and
 * their overrides are read with one statement per call, and what the keys share (head, batch seq,
 * team and org) once per call, an inheriting key's team targets once per change-log head (batchMemo).
 */
import type { ResolvedKeyPolicy } from '../../src/policy/resolved-policy.js';
import { deferred, type Database } from '../../src/storage/database.js';
import type { RecentCursor } from '../../src/storage/key-policy-repository.js';
import { batchMemo, recentKeyPolicyPage, resolveKeyPolicyBatch } from './resolve-key-policy.js';

/** Most hashes per batch and keys per page the admin plane answers. */
export const MAX_KEY_BATCH = 1000;

export interface RecentKeysPage {
  policies: ResolvedKeyPolicy[];
  /** `<last_used_at>:<key num>` of the last key of this page; null when there are no more. */
  next: string | null;
}

export function resolveKeyPolicies(
  db: Database,
  hashes: readonly string[],
  gatewayId: string | undefined,
  now: number,
): (ResolvedKeyPolicy | null)[] {
  return deferred(db, () => resolveKeyPolicyBatch(db, hashes, gatewayId, now, batchMemo(db, gatewayId)));
}

/**
 * Parses `<last_used_at>:<key num>` (migration 7's integer key number), both as `next` writes them
 * (digits only); undefined when malformed. `Number()` alone took ` 1`, `0x10`, `1e3` and `-5` for
 * times, so a mangled cursor answered some other page instead of 400.
 */
export function parseCursor(cursor: string): RecentCursor | undefined {
  const match = /^(\d{1,16}):(\d{1,15})$/.exec(cursor);
  if (match === null) return undefined;
  const lastUsedAt = Number(match[1]);
  const num = Number(match[2]);
  if (!Number.isSafeInteger(lastUsedAt) || !Number.isSafeInteger(num)) return undefined;
  return { lastUsedAt, num };
}

export function recentKeyPolicies(
  db: Database,
  after: RecentCursor | undefined,
  limit: number,
  gatewayId: string | undefined,
  now: number,
): RecentKeysPage {
  return deferred(db, () => {
    const page = recentKeyPolicyPage(db, after, limit, gatewayId, now, batchMemo(db, gatewayId));
    return {
      policies: page.policies,
      next: page.rows < limit || page.last === undefined ? null : `${page.last.lastUsedAt}:${page.last.num}`,
    };
  });
}
