/**
 * Seeds many keys straight into the admin plane's SQLite file (100,000 keys through the HTTP API
 * would take minutes; one transaction takes about a second). Run only while the admin plane is
 * stopped: it is the single writer. The team and owner must already exist (the bench creates
 * them through the admin API first, so every row the admin plane derives itself is its own).
 */
import { openDatabase } from '../src/storage/database.js';
import { displaySecret, generateSecret, hashSecret } from '../src/keys/secret.js';
import { newId } from '../src/ids.js';

export interface SeedKeysOptions {
  dbPath: string;
  teamId: string;
  serviceAccountId: string;
  count: number;
  namePrefix: string;
  /** Window limits given to every seeded key (so the gateway keeps counters for each). */
  limits?: { rpm?: number; tpm?: number; rph?: number; rpd?: number; tpd?: number; maxBudgetMicros?: number };
  /** Give key i a last use of now − i ms (the preload pages keys by last use). */
  lastUsed?: boolean;
}

export interface SeededKey {
  id: string;
  secret: string;
}

export function seedKeys(options: SeedKeysOptions): SeededKey[] {
  const db = openDatabase(options.dbPath);
  try {
    const insert = db.prepare(
      `INSERT INTO keys (id, name, team_id, owner_type, owner_service_account_id, status, token_hash, display,
         max_budget_micros, rpm_limit, tpm_limit, rph_limit, rpd_limit, tpd_limit,
         access_mode, metadata, created_by, created_at, updated_at)
       VALUES (?, ?, ?, 'service_account', ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, 'inherit', '{}', 'bench-seed', ?, ?)`,
    );
    // A key's last use is in its usage row (migration 7).
    const used = db.prepare('INSERT INTO key_usage (key_id, last_used_at) VALUES (?, ?)');
    const limits = options.limits ?? {};
    const now = Date.now();
    const keys: SeededKey[] = new Array<SeededKey>(options.count);
    db.transaction(() => {
      for (let i = 0; i < options.count; i++) {
        const secret = generateSecret();
        const id = newId('key');
        insert.run(
          id,
          `${options.namePrefix}-${i}`,
          options.teamId,
          options.serviceAccountId,
          hashSecret(secret),
          displaySecret(secret),
          limits.maxBudgetMicros ?? null,
          limits.rpm ?? null,
          limits.tpm ?? null,
          limits.rph ?? null,
          limits.rpd ?? null,
          limits.tpd ?? null,
          now,
          now,
        );
        if (options.lastUsed === true) used.run(id, now - i);
        keys[i] = { id, secret };
      }
    })();
    return keys;
  } finally {
    db.close();
  }
}
