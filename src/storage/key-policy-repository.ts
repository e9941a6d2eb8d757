/**
 * The reads of a gateway's key lookup (admin/internal/resolve-key-policy.ts): a key by its
 * current hash or by its previous hash within the regenerate grace (with its team's org and its
 * owner's blocked flag), team and org rows, the key's live overrides, and the batch seq applied
 * for the asking gateway; the previous-hash and override reads also for a whole batch of keys. Prepared once per database (not through `prepared()`): a gateway cache
 * miss costs one pass of SQLite reads, no SQL parsing and no lookup by SQL text.
 * Row types stay with the resolver; the readers are generic over them.
 */
import type { Statement } from 'better-sqlite3';
import type { Database } from './database.js';

/** A live override of the key: its limits JSON and expiry. */
export interface LiveOverrideRow {
  id: string;
  limits: string;
  expires_at: number;
}

export interface KeyPolicyReads<Key, Scope> {
  /** The key (the columns a policy needs, `org_id`, `owner_blocked`) whose current hash is `hash`. */
  byHash(hash: string): Key | undefined;
  /** The key whose previous hash is `hash` while its grace lasts (`previous_valid_until > now`). */
  byPreviousHash(hash: string, now: number): Key | undefined;
  /** `byPreviousHash` for many hashes, in one statement. */
  byPreviousHashes(hashes: readonly string[], now: number): Key[];
  team(id: string): Scope | undefined;
  org(id: string): Scope | undefined;
  /** The team and its org in one statement (a batch's first key of the team). */
  teamAndOrg(teamId: string): { team: Scope; org: Scope } | undefined;
  /** The key's overrides running at `now`, newest first (the first one applies). */
  overrides(keyId: string, now: number): LiveOverrideRow[];
  /** `overrides` of many keys in one statement, by key id then newest first. */
  overridesOfKeys(keyIds: readonly string[], now: number): (LiveOverrideRow & { key_id: string })[];
  /** The highest usage batch seq applied for the gateway (0 when none). */
  appliedBatchSeq(gatewayId: string): number;
  /** The change-log head and `appliedBatchSeq(gatewayId)` in one statement (once per batch). */
  headAndBatchSeq(gatewayId: string): { head: number; seq: number };
  /**
   * A warm-start page (issue 15): the active keys used most recently, `last_used_at` descending then
   * key num, after the cursor (exclusive), up to `limit`, with the columns a policy needs (and
   * `last_used_at` and `key_num`, the next cursor): one statement per page instead of a get per key.
   */
  recentlyUsed(after: RecentCursor | undefined, limit: number): (Key & RecentKey)[];
}

/** The cursor columns of a warm-start page row. */
export interface RecentKey {
  last_used_at: number;
  key_num: number;
}

/** Where a warm-start page starts: after this key (its last use and `num`, migration 7). */
export interface RecentCursor {
  lastUsedAt: number;
  num: number;
}

/**
 * The key columns a policy needs (not `k.*`: 35 columns, half of them never read), as
 * `[result name, SQL expression]`, in the order `keyRowOf` reads them.
 */
const KEY_SELECT: readonly (readonly [string, string])[] = [
  ['id', 'k.id'],
  ['name', 'k.name'],
  ['team_id', 'k.team_id'],
  ['status', 'k.status'],
  ['blocked', 'k.blocked'],
  ['tags', 'k.tags'],
  ['allow_request_tags', 'k.allow_request_tags'],
  ['token_hash', 'k.token_hash'],
  ['previous_token_hash', 'k.previous_token_hash'],
  ['previous_valid_until', 'k.previous_valid_until'],
  ['expires_at', 'k.expires_at'],
  ['access_mode', 'k.access_mode'],
  ['max_budget_micros', 'k.max_budget_micros'],
  ['rpm_limit', 'k.rpm_limit'],
  ['tpm_limit', 'k.tpm_limit'],
  ['rph_limit', 'k.rph_limit'],
  ['rpd_limit', 'k.rpd_limit'],
  ['tpd_limit', 'k.tpd_limit'],
  ['spend_micros', 'IFNULL(ku.spend_micros, 0)'],
  ['budget_period', 'k.budget_period'],
  ['soft_budget_micros', 'k.soft_budget_micros'],
  ['period_spend_micros', 'IFNULL(ku.period_spend_micros, 0)'],
  ['period_start', 'ku.period_start'],
  ['max_parallel_requests', 'k.max_parallel_requests'],
  ['limit_modes', 'k.limit_modes'],
  ['org_id', 't.org_id'],
  ['owner_blocked', 'u.blocked'],
];
const KEY_COLUMNS = KEY_SELECT.map(([name, sql]) =>
  sql.endsWith(`.${name}`) ? sql : `${sql} AS ${name}`,
).join(', ');

/**
 * A key row from a raw statement's values, `offset` columns in (issue 15). better-sqlite3 builds
 * each row object through the V8 API (~9 µs for these 27 columns), and a loop assigning the
 * names one by one measured ~8 µs more per row than the raw arrays (keyed stores growing the
 * object); one object literal is one hidden class allocated at once (warm-start pages and key
 * batches read thousands of rows). `keyRows` checks at prepare time that the statement's columns
 * are KEY_SELECT's, in this order.
 */
function keyRowOf(v: readonly unknown[], o: number): Record<string, unknown> {
  return {
    id: v[o],
    name: v[o + 1],
    team_id: v[o + 2],
    status: v[o + 3],
    blocked: v[o + 4],
    tags: v[o + 5],
    allow_request_tags: v[o + 6],
    token_hash: v[o + 7],
    previous_token_hash: v[o + 8],
    previous_valid_until: v[o + 9],
    expires_at: v[o + 10],
    access_mode: v[o + 11],
    max_budget_micros: v[o + 12],
    rpm_limit: v[o + 13],
    tpm_limit: v[o + 14],
    rph_limit: v[o + 15],
    rpd_limit: v[o + 16],
    tpd_limit: v[o + 17],
    spend_micros: v[o + 18],
    budget_period: v[o + 19],
    soft_budget_micros: v[o + 20],
    period_spend_micros: v[o + 21],
    period_start: v[o + 22],
    max_parallel_requests: v[o + 23],
    limit_modes: v[o + 24],
    org_id: v[o + 25],
    owner_blocked: v[o + 26],
  };
}

/** A warm-start page row: its cursor columns first, then the key's (RECENT_KEYS_SQL). */
function recentRowOf(v: readonly unknown[]): Record<string, unknown> {
  const row = keyRowOf(v, 2);
  row.last_used_at = v[0];
  row.key_num = v[1];
  return row;
}

/** Key rows of a statement selecting `lead` columns and then KEY_SELECT's, built by `toRow`. */
function keyRows<P extends unknown[]>(
  statement: Statement<P>,
  lead: readonly string[],
  toRow: (values: readonly unknown[]) => Record<string, unknown>,
) {
  const raw = statement.raw(true);
  const names = raw.columns().map((column) => column.name);
  const expected = [...lead, ...KEY_SELECT.map(([name]) => name)];
  if (names.join() !== expected.join()) {
    throw new Error(`key row columns ${names.join()} are not ${expected.join()}`);
  }
  return {
    get: (...params: P): Record<string, unknown> | undefined => {
      const values = raw.get(...params) as unknown[] | undefined;
      return values === undefined ? undefined : toRow(values);
    },
    all: (...params: P): Record<string, unknown>[] => (raw.all(...params) as unknown[][]).map(toRow),
  };
}

/** A team's or org's columns for its scope state (admin/schemas.ts LimitColumns and `id`). */
const SCOPE_NAMES = [
  'id',
  'max_budget_micros',
  'rpm_limit',
  'tpm_limit',
  'rph_limit',
  'rpd_limit',
  'tpd_limit',
  'spend_micros',
  'budget_period',
  'soft_budget_micros',
  'period_spend_micros',
  'period_start',
  'max_parallel_requests',
  'limit_modes',
];
const SCOPE_COLUMNS = SCOPE_NAMES.join(', ');

const KEY_JOINS = 'JOIN teams t ON t.id = k.team_id LEFT JOIN users u ON u.id = k.owner_user_id';

/**
 * Warm-start pages: walk key_usage's last-use index (migration 7) backwards (keys never used have
 * no usage row). CROSS JOIN fixes key_usage as the outer loop: without statistics SQLite would
 * scan keys and sort every page. Parameters: the limit, or the cursor's (time, key num) and the limit.
 */
export const RECENT_KEYS_SQL = (() => {
  const recent = `SELECT ku.last_used_at, ku.key_num, ${KEY_COLUMNS}
    FROM key_usage ku INDEXED BY key_usage_last_used CROSS JOIN keys k ${KEY_JOINS}
    WHERE k.num = ku.key_num AND ku.last_used_at IS NOT NULL AND k.status = 'active'`;
  const order = 'ORDER BY ku.last_used_at DESC, ku.key_num DESC LIMIT ?';
  return {
    first: `${recent} ${order}`,
    after: `${recent} AND (ku.last_used_at, ku.key_num) < (?, ?) ${order}`,
  };
})();

function prepareReads(db: Database): KeyPolicyReads<unknown, unknown> {
  const select = `SELECT ${KEY_COLUMNS} FROM keys k LEFT JOIN key_usage ku ON ku.key_num = k.num ${KEY_JOINS}`;
  // Batches (issue 15): the hashes or ids passed as one JSON array. The key rows themselves are
  // read with one indexed get per hash: measured cheaper than one `IN (json_each)` statement.
  const each = 'IN (SELECT value FROM json_each(?))';
  const keyRow = (values: readonly unknown[]) => keyRowOf(values, 0);
  const current = keyRows(db.prepare<[string]>(`${select} WHERE k.token_hash = ?`), [], keyRow);
  const previous = keyRows(
    db.prepare<[string, number]>(`${select} WHERE k.previous_token_hash = ? AND k.previous_valid_until > ?`),
    [],
    keyRow,
  );
  const previousMany = keyRows(
    db.prepare<[string, number]>(
      `${select} WHERE k.previous_token_hash ${each} AND k.previous_valid_until > ?`,
    ),
    [],
    keyRow,
  );
  // The columns a scope state needs (not `*`: a team or org row has ~25), read once per batch.
  const team = db.prepare<[string]>(`SELECT ${SCOPE_COLUMNS} FROM teams WHERE id = ?`);
  const org = db.prepare<[string]>(`SELECT ${SCOPE_COLUMNS} FROM orgs WHERE id = ?`);
  const prefixed = (alias: string) =>
    SCOPE_NAMES.map((name) => `${alias}.${name} AS ${alias}_${name}`).join(', ');
  const teamAndOrg = db
    .prepare<[string]>(
      `SELECT ${prefixed('t')}, ${prefixed('o')} FROM teams t JOIN orgs o ON o.id = t.org_id WHERE t.id = ?`,
    )
    .raw(true);
  const scopeOf = (values: readonly unknown[], offset: number) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < SCOPE_NAMES.length; i++) row[SCOPE_NAMES[i]!] = values[offset + i];
    return row;
  };
  const overrides = db.prepare<[string, number], LiveOverrideRow>(
    'SELECT id, limits, expires_at FROM key_overrides WHERE key_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC',
  );
  const overridesMany = db.prepare<[string, number], LiveOverrideRow & { key_id: string }>(
    `SELECT key_id, id, limits, expires_at FROM key_overrides WHERE key_id ${each} AND expires_at > ?
     ORDER BY key_id, created_at DESC, id DESC`,
  );
  const cursor = ['last_used_at', 'key_num'];
  const recentFirst = keyRows(db.prepare<[number]>(RECENT_KEYS_SQL.first), cursor, recentRowOf);
  const recentAfter = keyRows(
    db.prepare<[number, number, number]>(RECENT_KEYS_SQL.after),
    cursor,
    recentRowOf,
  );
  const batchSeq = db.prepare<[string], { seq: number }>(
    'SELECT IFNULL(MAX(batch_seq), 0) AS seq FROM usage_batches WHERE gateway_id = ?',
  );
  const heads = db.prepare<[string], { head: number; seq: number }>(
    `SELECT (SELECT IFNULL(MAX(seq), 0) FROM change_log) AS head,
            (SELECT IFNULL(MAX(batch_seq), 0) FROM usage_batches WHERE gateway_id = ?) AS seq`,
  );
  return {
    byHash: (hash) => current.get(hash),
    byPreviousHash: (hash, now) => previous.get(hash, now),
    byPreviousHashes: (hashes, now) => previousMany.all(JSON.stringify(hashes), now),
    team: (id) => team.get(id),
    org: (id) => org.get(id),
    teamAndOrg: (teamId) => {
      const values = teamAndOrg.get(teamId) as unknown[] | undefined;
      return values === undefined
        ? undefined
        : { team: scopeOf(values, 0), org: scopeOf(values, SCOPE_NAMES.length) };
    },
    overrides: (keyId, now) => overrides.all(keyId, now),
    // One key (a small batch's common case): the single-key statement, no JSON array to parse.
    overridesOfKeys: (keyIds, now) =>
      keyIds.length === 1
        ? overrides.all(keyIds[0]!, now).map((entry) => ({ key_id: keyIds[0]!, ...entry }))
        : overridesMany.all(JSON.stringify(keyIds), now),
    appliedBatchSeq: (gatewayId) => batchSeq.get(gatewayId)!.seq,
    headAndBatchSeq: (gatewayId) => heads.get(gatewayId)!,
    recentlyUsed: (after, limit) =>
      (after === undefined
        ? recentFirst.all(limit)
        : recentAfter.all(after.lastUsedAt, after.num, limit)) as unknown as RecentKey[],
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
