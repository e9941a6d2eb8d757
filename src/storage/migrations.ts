/**
 * Versioned schema migrations, applied in order at start inside one transaction each.
 * Times are integer milliseconds since the epoch (UTC); money is integer micro-USD;
 * JSON columns hold arrays/objects as text. Append new migrations; never edit a shipped one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * Rebuilds a table other tables reference: run with foreign keys off (SQLite's documented
   * table-rebuild procedure), then `PRAGMA foreign_key_check` must find nothing.
   */
  rebuildsTables?: boolean;
}

const LIMIT_COLUMNS = `
  max_budget_micros INTEGER,
  rpm_limit INTEGER, tpm_limit INTEGER, rph_limit INTEGER, rpd_limit INTEGER, tpd_limit INTEGER,
  spend_micros INTEGER NOT NULL DEFAULT 0`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'domain model',
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT,
  platform_role TEXT NOT NULL DEFAULT 'org_user' CHECK (platform_role IN ('platform_admin', 'org_user')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  ${LIMIT_COLUMNS},
  access_mode TEXT NOT NULL DEFAULT 'all' CHECK (access_mode IN ('all', 'restrict')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE org_members (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('org_owner', 'org_admin', 'org_auditor', 'org_member')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members(user_id);

CREATE TABLE teams (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE RESTRICT,
  name TEXT NOT NULL,
  ${LIMIT_COLUMNS},
  access_mode TEXT NOT NULL DEFAULT 'inherit' CHECK (access_mode IN ('inherit', 'restrict')),
  ss_enabled INTEGER NOT NULL DEFAULT 1,
  ss_max_keys_per_user INTEGER,
  ss_budget_ceiling_micros INTEGER,
  ss_require_expiry INTEGER NOT NULL DEFAULT 0,
  ss_max_expiry_days INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (org_id, name)
);

CREATE TABLE team_members (
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('team_admin', 'team_developer', 'team_viewer')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members(user_id);

CREATE TABLE service_accounts (
  id TEXT PRIMARY KEY,
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE RESTRICT,
  name TEXT NOT NULL,
  description TEXT,
  created_by TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (team_id, name)
);

CREATE TABLE targets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  base_url TEXT NOT NULL,
  upstream_model TEXT,
  api_key_env TEXT,
  input_micros_per_mtok INTEGER NOT NULL DEFAULT 0,
  output_micros_per_mtok INTEGER NOT NULL DEFAULT 0,
  tags TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE access_groups (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  org_id TEXT REFERENCES orgs(id) ON DELETE CASCADE,
  match_name_glob TEXT,
  match_tags TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE access_group_targets (
  group_id TEXT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
  target_id TEXT NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, target_id)
);

-- Asset access bindings of an org ('restrict' mode), a team or a key ('restrict' mode).
CREATE TABLE access_bindings (
  scope_type TEXT NOT NULL CHECK (scope_type IN ('org', 'team', 'key')),
  scope_id TEXT NOT NULL,
  target_id TEXT REFERENCES targets(id) ON DELETE CASCADE,
  group_id TEXT REFERENCES access_groups(id) ON DELETE CASCADE,
  CHECK ((target_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX access_bindings_unique ON access_bindings(scope_type, scope_id, IFNULL(target_id, ''), IFNULL(group_id, ''));

CREATE TABLE keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE RESTRICT,
  owner_type TEXT NOT NULL CHECK (owner_type IN ('user', 'service_account')),
  owner_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
  owner_service_account_id TEXT REFERENCES service_accounts(id) ON DELETE RESTRICT,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  token_hash TEXT NOT NULL UNIQUE,
  display TEXT NOT NULL,
  previous_token_hash TEXT UNIQUE,
  previous_valid_until INTEGER,
  ${LIMIT_COLUMNS},
  expires_at INTEGER,
  access_mode TEXT NOT NULL DEFAULT 'inherit' CHECK (access_mode IN ('inherit', 'restrict')),
  metadata TEXT NOT NULL DEFAULT '{}',
  self_service INTEGER NOT NULL DEFAULT 0,
  created_by TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX keys_team ON keys(team_id);
CREATE INDEX keys_owner_user ON keys(owner_user_id);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT,
  via TEXT NOT NULL DEFAULT 'admin' CHECK (via IN ('admin', 'self_service', 'system')),
  action TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  org_id TEXT,
  team_id TEXT,
  before TEXT,
  after TEXT,
  request_id TEXT
);
CREATE INDEX audit_entity ON audit_log(entity_type, entity_id);

-- Source of truth for invalidation: one row per mutation that can change a gateway decision.
CREATE TABLE change_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  token_hashes TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE usage_daily (
  key_id TEXT NOT NULL,
  team_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  target TEXT NOT NULL,
  day TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  spend_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, target, day)
);

CREATE TABLE usage_batches (
  gateway_id TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  batch_seq INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (gateway_id, batch_id)
);
`,
  },
  {
    version: 2,
    name: 'usage batch seq index',
    // GET /internal/keys answers MAX(batch_seq) per gateway on every key load; without this index
    // that is a scan of every batch the gateway ever sent.
    sql: 'CREATE INDEX usage_batches_gateway_seq ON usage_batches(gateway_id, batch_seq);',
  },
  {
    version: 3,
    name: 'access group names unique per org',
    // A global UNIQUE(name) made a 409 reveal another org's group names (issue 10 item 16).
    rebuildsTables: true,
    sql: `
CREATE TABLE access_groups_new (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  org_id TEXT REFERENCES orgs(id) ON DELETE CASCADE,
  match_name_glob TEXT,
  match_tags TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
INSERT INTO access_groups_new (id, name, org_id, match_name_glob, match_tags, created_at, updated_at)
  SELECT id, name, org_id, match_name_glob, match_tags, created_at, updated_at FROM access_groups;
DROP TABLE access_groups;
ALTER TABLE access_groups_new RENAME TO access_groups;
CREATE UNIQUE INDEX access_groups_org_name ON access_groups(IFNULL(org_id, ''), name);
`,
  },
  {
    version: 4,
    name: 'console sign-in: password hashes, set-password links, sessions',
    // Secrets are stored only as hashes: scrypt for passwords, sha256 for link tokens and session ids.
    sql: `
ALTER TABLE users ADD COLUMN password_hash TEXT;

CREATE TABLE password_links (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX password_links_user ON password_links(user_id);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
  is_master INTEGER NOT NULL DEFAULT 0,
  -- For a master-key session: a fingerprint of the master key it was opened with (a new key ends it).
  master_fingerprint TEXT,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  CHECK ((user_id IS NULL) = (is_master = 1))
);
CREATE INDEX sessions_user ON sessions(user_id);
`,
  },
  {
    version: 5,
    name: 'budget periods, parallel caps, blocking, overrides, shadow limits, tags, hourly usage',
    // Issue 14. period_start is the start (epoch ms) of the period period_spend_micros belongs to;
    // a reader compares it with the current period start, so a reset needs no write at the boundary.
    // limit_modes: {"rpm_limit": "shadow", ...} (absent = enforced).
    sql: `
${['keys', 'teams', 'orgs']
  .map(
    (table) => `
ALTER TABLE ${table} ADD COLUMN budget_period TEXT CHECK (budget_period IN ('day', 'week', 'month'));
ALTER TABLE ${table} ADD COLUMN soft_budget_micros INTEGER;
ALTER TABLE ${table} ADD COLUMN period_spend_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ${table} ADD COLUMN period_start INTEGER;
ALTER TABLE ${table} ADD COLUMN max_parallel_requests INTEGER;
ALTER TABLE ${table} ADD COLUMN limit_modes TEXT NOT NULL DEFAULT '{}';
-- Lets a usage batch skip period and soft-budget work when no scope needs it (one index probe).
CREATE INDEX ${table}_budget_policy ON ${table}(id) WHERE budget_period IS NOT NULL OR soft_budget_micros IS NOT NULL;`,
  )
  .join('')}
ALTER TABLE keys ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE keys ADD COLUMN allow_request_tags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;

CREATE TABLE key_overrides (
  id TEXT PRIMARY KEY,
  key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  limits TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  reason TEXT,
  created_by TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX key_overrides_key ON key_overrides(key_id, expires_at);

-- One soft-budget alert per scope and period (period_start 0 = lifetime budget).
CREATE TABLE budget_alerts (
  scope_type TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (scope_type, scope_id, period_start)
);

-- Hour-granular usage (hour = epoch ms of the UTC hour), with the owner and tags for reports.
CREATE TABLE usage_hourly (
  key_id TEXT NOT NULL,
  team_id TEXT NOT NULL,
  org_id TEXT NOT NULL,
  user_id TEXT,
  target TEXT NOT NULL,
  hour INTEGER NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  requests INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  spend_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, target, hour, tags)
) WITHOUT ROWID; -- one b-tree per row instead of two: a flush writes one row per key and hour
INSERT INTO usage_hourly (key_id, team_id, org_id, user_id, target, hour, requests, input_tokens, output_tokens, spend_micros)
  SELECT u.key_id, u.team_id, u.org_id, k.owner_user_id, u.target,
         CAST(strftime('%s', u.day) AS INTEGER) * 1000, u.requests, u.input_tokens, u.output_tokens, u.spend_micros
  FROM usage_daily u LEFT JOIN keys k ON k.id = u.key_id;
`,
  },
  {
    version: 6,
    name: 'keys by last use',
    // GET /internal/keys pages the active keys by most recent use (a gateway's warm start).
    sql: 'CREATE INDEX keys_last_used ON keys(last_used_at, id);',
  },
  {
    version: 7,
    name: 'key usage apart from key policy; daily usage as a view',
    // Issue 15: a usage flush of random-key traffic updates thousands of distinct keys. Their
    // spend, last use and period spend lived in the wide keys row (35 columns, tags, metadata):
    // each item dirtied a page holding ~4 keys, plus the last-use index. Here a key's usage state
    // is a narrow row (~60 B) of its own, written by usage alone; keys holds policy, written by
    // the admin API alone. A key without a row has no spend and was never used; the row goes
    // with its key (ON DELETE CASCADE).
    sql: `
CREATE TABLE key_usage (
  key_id TEXT PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE,
  spend_micros INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER,
  period_spend_micros INTEGER NOT NULL DEFAULT 0,
  period_start INTEGER
) WITHOUT ROWID;
INSERT INTO key_usage (key_id, spend_micros, last_used_at, period_spend_micros, period_start)
  SELECT id, spend_micros, last_used_at, period_spend_micros, period_start FROM keys
  WHERE spend_micros <> 0 OR last_used_at IS NOT NULL OR period_spend_micros <> 0 OR period_start IS NOT NULL;
-- GET /internal/keys pages the active keys by most recent use (a gateway's warm start).
CREATE INDEX key_usage_last_used ON key_usage(last_used_at, key_id);
DROP INDEX keys_last_used;
ALTER TABLE keys DROP COLUMN spend_micros;
ALTER TABLE keys DROP COLUMN last_used_at;
ALTER TABLE keys DROP COLUMN period_spend_micros;
ALTER TABLE keys DROP COLUMN period_start;

-- usage_hourly has held everything usage_daily did since migration 5 (which copied it over), and
-- every read is of usage_hourly: usage_daily becomes a view instead of a second upsert per item.
DROP TABLE usage_daily;
CREATE VIEW usage_daily AS
  SELECT key_id, team_id, org_id, target, strftime('%Y-%m-%d', hour / 1000, 'unixepoch') AS day,
         SUM(requests) AS requests, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
         SUM(spend_micros) AS spend_micros
  FROM usage_hourly GROUP BY key_id, target, day;
`,
  },
];
