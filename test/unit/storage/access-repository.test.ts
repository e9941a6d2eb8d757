import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/storage/database.js';
import { effectiveTargetNames, groupMemberNames } from '../../../src/storage/access-repository.js';

let db: Database;
const now = Date.now();

function target(id: string, tags: string[] = []): void {
  db.prepare(
    'INSERT INTO targets (id, name, base_url, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(id, id, 'http://127.0.0.1:1/v1', JSON.stringify(tags), now, now);
}
function group(id: string, glob: string | null, tags: string[] | null, explicit: string[] = []): void {
  db.prepare(
    'INSERT INTO access_groups (id, name, match_name_glob, match_tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(id, id, glob, tags === null ? null : JSON.stringify(tags), now, now);
  for (const t of explicit) db.prepare('INSERT INTO access_group_targets VALUES (?, ?)').run(id, t);
}
function bind(
  scope: 'org' | 'team' | 'key',
  scopeId: string,
  refs: { targets?: string[]; groups?: string[] },
): void {
  const table = { org: 'orgs', team: 'teams', key: 'keys' }[scope];
  db.prepare(`UPDATE ${table} SET access_mode = 'restrict' WHERE id = ?`).run(scopeId);
  for (const t of refs.targets ?? [])
    db.prepare('INSERT INTO access_bindings (scope_type, scope_id, target_id) VALUES (?, ?, ?)').run(
      scope,
      scopeId,
      t,
    );
  for (const g of refs.groups ?? [])
    db.prepare('INSERT INTO access_bindings (scope_type, scope_id, group_id) VALUES (?, ?, ?)').run(
      scope,
      scopeId,
      g,
    );
}

beforeEach(() => {
  db = openDatabase(':memory:');
  db.prepare('INSERT INTO orgs (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)').run(
    'o1',
    'o1',
    now,
    now,
  );
  db.prepare('INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
    'tm1',
    'o1',
    'tm1',
    now,
    now,
  );
  db.prepare(
    `INSERT INTO keys (id, name, team_id, owner_type, token_hash, display, created_at, updated_at)
     VALUES ('k1', 'k1', 'tm1', 'user', 'h1', 'kg_x', ?, ?)`,
  ).run(now, now);
  for (const name of ['gpt-4o', 'gpt-4o-mini', 'claude-3', 'llama'])
    target(name, name.startsWith('gpt') ? ['openai'] : []);
});

describe('effectiveTargetNames (SQLite)', () => {
  it('returns every target, sorted, for an all-mode org and inheriting team and key', () => {
    const all = ['claude-3', 'gpt-4o', 'gpt-4o-mini', 'llama'];
    expect(effectiveTargetNames(db, { orgId: 'o1' })).toEqual(all);
    expect(effectiveTargetNames(db, { orgId: 'o1', teamId: 'tm1' })).toEqual(all);
    expect(effectiveTargetNames(db, { orgId: 'o1', teamId: 'tm1', keyId: 'k1' })).toEqual(all);
  });

  it('resolves key ∩ team ∩ org through target and group bindings', () => {
    group('g-openai', null, ['openai']);
    bind('org', 'o1', { groups: ['g-openai'], targets: ['claude-3'] });
    bind('team', 'tm1', { targets: ['gpt-4o', 'claude-3', 'llama'] });
    bind('key', 'k1', { targets: ['gpt-4o', 'gpt-4o-mini'] });
    expect(effectiveTargetNames(db, { orgId: 'o1' })).toEqual(['claude-3', 'gpt-4o', 'gpt-4o-mini']);
    expect(effectiveTargetNames(db, { orgId: 'o1', teamId: 'tm1' })).toEqual(['claude-3', 'gpt-4o']);
    expect(effectiveTargetNames(db, { orgId: 'o1', teamId: 'tm1', keyId: 'k1' })).toEqual(['gpt-4o']);
    // the key's team is read from its row when teamId is omitted
    expect(effectiveTargetNames(db, { orgId: 'o1', keyId: 'k1' })).toEqual(['gpt-4o']);
  });

  it('adds a target inserted later to a key bound to a group whose glob matches it', () => {
    group('g-gpt', 'gpt-*', null);
    bind('key', 'k1', { groups: ['g-gpt'] });
    expect(effectiveTargetNames(db, { orgId: 'o1', teamId: 'tm1', keyId: 'k1' })).toEqual([
      'gpt-4o',
      'gpt-4o-mini',
    ]);
    target('gpt-5');
    expect(effectiveTargetNames(db, { orgId: 'o1', teamId: 'tm1', keyId: 'k1' })).toEqual([
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-5',
    ]);
    expect(groupMemberNames(db, 'g-gpt')).toEqual(['gpt-4o', 'gpt-4o-mini', 'gpt-5']);
  });

  it('drops a deleted target from bindings and explicit memberships (FK cascade)', () => {
    group('g', null, null, ['llama', 'claude-3']);
    bind('key', 'k1', { targets: ['llama'], groups: ['g'] });
    db.prepare('DELETE FROM targets WHERE id = ?').run('llama');
    expect(groupMemberNames(db, 'g')).toEqual(['claude-3']);
    expect(effectiveTargetNames(db, { orgId: 'o1', teamId: 'tm1', keyId: 'k1' })).toEqual(['claude-3']);
    expect(db.prepare("SELECT COUNT(*) AS n FROM access_bindings WHERE target_id = 'llama'").get()).toEqual({
      n: 0,
    });
  });

  it('returns [] for the members of an unknown group', () => {
    expect(groupMemberNames(db, 'nope')).toEqual([]);
  });
});
