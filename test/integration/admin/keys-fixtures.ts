/**
 * Seeds orgs, teams, users, memberships and targets straight into SQLite for the keys tests,
 * so they depend only on the keys and internal routes under test. Works on the in-process
 * harness's database and on a database file a spawned admin process will open.
 */
import { createHash } from 'node:crypto';
import { Credentials } from '../../../admin/auth/credentials.js';
import { loadConfig } from '../../../src/config/config.js';
import { newId } from '../../../src/ids.js';
import type { OrgRole, TeamRole } from '../../../src/policy/permissions.js';
import type { Database } from '../../../src/storage/database.js';

export interface TeamSeed {
  name?: string;
  max_budget_micros?: number | null;
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  rph_limit?: number | null;
  rpd_limit?: number | null;
  tpd_limit?: number | null;
  max_parallel_requests?: number | null;
  ss_enabled?: 0 | 1;
  ss_max_keys_per_user?: number | null;
  ss_budget_ceiling_micros?: number | null;
  ss_require_expiry?: 0 | 1;
  ss_max_expiry_days?: number | null;
}

export class Seeder {
  constructor(
    readonly db: Database,
    readonly now: number = Date.now(),
  ) {}

  org(name = `org-${newId('n')}`): string {
    const id = newId('org');
    this.db
      .prepare('INSERT INTO orgs (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)')
      .run(id, name, this.now, this.now);
    return id;
  }

  team(orgId: string, seed: TeamSeed = {}): string {
    const id = newId('team');
    const row = {
      name: `team-${id}`,
      max_budget_micros: null,
      rpm_limit: null,
      tpm_limit: null,
      rph_limit: null,
      rpd_limit: null,
      tpd_limit: null,
      max_parallel_requests: null,
      ss_enabled: 1,
      ss_max_keys_per_user: null,
      ss_budget_ceiling_micros: null,
      ss_require_expiry: 0,
      ss_max_expiry_days: null,
      ...seed,
    };
    this.db
      .prepare(
        `INSERT INTO teams (id, org_id, name, max_budget_micros, rpm_limit, tpm_limit, rph_limit, rpd_limit, tpd_limit, max_parallel_requests,
           ss_enabled, ss_max_keys_per_user, ss_budget_ceiling_micros, ss_require_expiry, ss_max_expiry_days,
           created_at, updated_at)
         VALUES (@id, @org_id, @name, @max_budget_micros, @rpm_limit, @tpm_limit, @rph_limit, @rpd_limit, @tpd_limit, @max_parallel_requests,
           @ss_enabled, @ss_max_keys_per_user, @ss_budget_ceiling_micros, @ss_require_expiry, @ss_max_expiry_days,
           @now, @now)`,
      )
      .run({ ...row, id, org_id: orgId, now: this.now });
    return id;
  }

  user(name: string, platformRole: 'platform_admin' | 'org_user' = 'org_user'): string {
    const id = newId('usr');
    this.db
      .prepare(
        'INSERT INTO users (id, email, name, platform_role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(id, `${name}-${id}@example.test`, name, platformRole, this.now, this.now);
    return id;
  }

  orgMember(orgId: string, userId: string, role: OrgRole): void {
    this.db
      .prepare('INSERT INTO org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)')
      .run(orgId, userId, role, this.now);
  }

  teamMember(teamId: string, userId: string, role: TeamRole): void {
    this.db
      .prepare('INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (?, ?, ?, ?)')
      .run(teamId, userId, role, this.now);
  }

  serviceAccount(teamId: string, name: string): string {
    const id = newId('sa');
    this.db
      .prepare('INSERT INTO service_accounts (id, team_id, name, created_at) VALUES (?, ?, ?, ?)')
      .run(id, teamId, name, this.now);
    return id;
  }

  target(name: string, options: { inputMicrosPerMtok?: number; outputMicrosPerMtok?: number } = {}): string {
    const id = newId('tgt');
    this.db
      .prepare(
        `INSERT INTO targets (id, name, base_url, upstream_model, api_key_env, input_micros_per_mtok,
           output_micros_per_mtok, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        name,
        'http://127.0.0.1:9/v1',
        `${name}-upstream`,
        'OPENAI_API_KEY',
        options.inputMicrosPerMtok ?? 150_000,
        options.outputMicrosPerMtok ?? 600_000,
        this.now,
        this.now,
      );
    return id;
  }
}

/** Mints user JWTs with a known HS256 secret (the one given to the admin under test). */
/** Test tokens valid for a year from `now()` (the admin's clock: admin tokens are checked on it). */
export function tokenMinter(
  db: Database,
  jwtSecret?: string,
  now: () => number = Date.now,
): (userId: string) => Promise<string> {
  const credentials = new Credentials(
    db,
    loadConfig({
      KEYGATE_DB_PATH: ':memory:',
      KEYGATE_MASTER_KEY: 'unused-master-key-0123456789',
      ...(jwtSecret === undefined ? {} : { KEYGATE_JWT_SECRET: jwtSecret }),
    }),
  );
  return async (userId) => (await credentials.mintUserToken(userId, 365 * 86_400, now())).token;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function countRows(
  db: Database,
  table: 'audit_log' | 'change_log' | 'keys' | 'service_accounts',
): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
}
