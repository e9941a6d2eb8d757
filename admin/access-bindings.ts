/**
 * Asset-access bindings of an org, team or key (DESIGN.md "Asset access"): the mode column of
 * the scope plus rows in access_bindings. Call writeAccess inside the mutation's transaction,
 * after the scope row exists.
 */
import { KeygateError } from '../src/errors/keygate-error.js';
import type { Database } from '../src/storage/database.js';

export type AccessScope = 'org' | 'team' | 'key';

export type AccessInput =
  { mode: 'all' } | { mode: 'inherit' } | { mode: 'restrict'; targets: string[]; access_groups: string[] };

export interface AccessView {
  mode: 'all' | 'inherit' | 'restrict';
  targets: string[];
  access_groups: string[];
}

const TABLE: Record<AccessScope, string> = { org: 'orgs', team: 'teams', key: 'keys' };

export function writeAccess(db: Database, scope: AccessScope, scopeId: string, access: AccessInput): void {
  const open = scope === 'org' ? 'all' : 'inherit';
  if (access.mode !== 'restrict' && access.mode !== open) {
    throw new KeygateError('invalid_request', {
      param: 'access.mode',
      message: `access.mode must be "${open}" or "restrict".`,
    });
  }
  db.prepare('DELETE FROM access_bindings WHERE scope_type = ? AND scope_id = ?').run(scope, scopeId);
  db.prepare(`UPDATE ${TABLE[scope]} SET access_mode = ? WHERE id = ?`).run(access.mode, scopeId);
  if (access.mode !== 'restrict') return;
  const insert = db.prepare(
    'INSERT OR IGNORE INTO access_bindings (scope_type, scope_id, target_id, group_id) VALUES (?, ?, ?, ?)',
  );
  for (const name of access.targets) {
    const target = db.prepare('SELECT id FROM targets WHERE name = ?').get(name) as
      { id: string } | undefined;
    if (target === undefined) {
      throw new KeygateError('invalid_request', {
        param: 'access.targets',
        message: `Unknown target "${name}".`,
      });
    }
    insert.run(scope, scopeId, target.id, null);
  }
  for (const id of access.access_groups) {
    const group = db.prepare('SELECT id FROM access_groups WHERE id = ?').get(id) as
      { id: string } | undefined;
    if (group === undefined) {
      throw new KeygateError('invalid_request', {
        param: 'access.access_groups',
        message: `Unknown access group "${id}".`,
      });
    }
    insert.run(scope, scopeId, null, group.id);
  }
}

export function accessView(db: Database, scope: AccessScope, scopeId: string): AccessView {
  const row = db.prepare(`SELECT access_mode FROM ${TABLE[scope]} WHERE id = ?`).get(scopeId) as
    { access_mode: AccessView['mode'] } | undefined;
  const targets = db
    .prepare(
      `SELECT t.name FROM access_bindings b JOIN targets t ON t.id = b.target_id
       WHERE b.scope_type = ? AND b.scope_id = ? ORDER BY t.name`,
    )
    .all(scope, scopeId) as { name: string }[];
  const groups = db
    .prepare(
      'SELECT group_id FROM access_bindings WHERE scope_type = ? AND scope_id = ? AND group_id IS NOT NULL ORDER BY group_id',
    )
    .all(scope, scopeId) as { group_id: string }[];
  return {
    mode: row?.access_mode ?? (scope === 'org' ? 'all' : 'inherit'),
    targets: targets.map((t) => t.name),
    access_groups: groups.map((g) => g.group_id),
  };
}
