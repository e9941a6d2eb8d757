/**
 * The reads of a gateway's key lookup (admin/internal/resolve-key-policy.ts): a key by its
 * current hash or by its previous hash within the regenerate grace (with its team's org and its
 * owner's blocked flag), team and org rows, the key's live overrides, and the batch seq applied
 * for the asking gateway. Prepared once per database (not through `prepared()`): a gateway cache
 * miss costs one pass of SQLite reads, no SQL parsing and no lookup by SQL text.
 * Row types stay with the resolver; the readers are generic over them.
 */
import type { Database } from './database.js';

/** A live override of the key: its limits JSON and expiry. */
export interface LiveOverrideRow {
  id: string;
  limits: string;
  expires_at: number;
}

export interface KeyPolicyReads<Key, Scope> {
  /** The key (`k.*`, `org_id`, `owner_blocked`) whose current hash is `hash`. */
  byHash(hash: string): Key | undefined;
  /** The key whose previous hash is `hash` while its grace lasts (`previous_valid_until > now`). */
  byPreviousHash(hash: string, now: number): Key | undefined;
  team(id: string): Scope | undefined;
  org(id: string): Scope | undefined;
  /** The key's overrides running at `now`, newest first (the first one applies). */
  overrides(keyId: string, now: number): LiveOverrideRow[];
  /** The highest usage batch seq applied for the gateway (0 when none). */
  appliedBatchSeq(gatewayId: string): number;
}

function prepareReads(db: Database): KeyPolicyReads<unknown, unknown> {
  const select = `SELECT k.*, t.org_id AS org_id, u.blocked AS owner_blocked
    FROM keys k JOIN teams t ON t.id = k.team_id LEFT JOIN users u ON u.id = k.owner_user_id`;
  const current = db.prepare<[string]>(`${select} WHERE k.token_hash = ?`);
  const previous = db.prepare<[string, number]>(
    `${select} WHERE k.previous_token_hash = ? AND k.previous_valid_until > ?`,
  );
  const team = db.prepare<[string]>('SELECT * FROM teams WHERE id = ?');
  const org = db.prepare<[string]>('SELECT * FROM orgs WHERE id = ?');
  const overrides = db.prepare<[string, number], LiveOverrideRow>(
    'SELECT id, limits, expires_at FROM key_overrides WHERE key_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC',
  );
  const batchSeq = db.prepare<[string], { seq: number }>(
    'SELECT IFNULL(MAX(batch_seq), 0) AS seq FROM usage_batches WHERE gateway_id = ?',
  );
  return {
    byHash: (hash) => current.get(hash),
    byPreviousHash: (hash, now) => previous.get(hash, now),
    team: (id) => team.get(id),
    org: (id) => org.get(id),
    overrides: (keyId, now) => overrides.all(keyId, now),
    appliedBatchSeq: (gatewayId) => batchSeq.get(gatewayId)!.seq,
  };
}

const READS = new WeakMap<Database, KeyPolicyReads<unknown, unknown>>();

/** The key-lookup reads of `db` (prepared on first use). */
export function keyPolicyReads<Key, Scope>(db: Database): KeyPolicyReads<Key, Scope> {
  let reads = READS.get(db);
  if (reads === undefined) {
    reads = prepareReads(db);
    READS.set(db, reads);
  }
  return reads as KeyPolicyReads<Key, Scope>;
}
