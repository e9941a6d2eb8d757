/**
 * Issue 10, admin plane: attacks on scope that used to succeed, each reproduced over HTTP.
 * (The org-cap and membership rules are rows of authz-matrix.test.ts; these are the cases that
 * need more than one request.)
 */
import { describe, expect, it } from 'vitest';
import { createTestAdmin } from '../../helpers/admin-harness.js';
import { keysWorld } from './keys-world.js';

describe('item 10: removing a developer from a team revokes their self-service keys there', () => {
  it('the key is revoked, audited and in the change log; other keys stay active', async () => {
    const w = await keysWorld();
    const own = await w.createKey({ name: 'mine', team_id: w.teamA1 }, w.tokens.devA1);
    const other = await w.createKey({ name: 'theirs', team_id: w.teamA1 }, w.tokens.dev2A1);
    expect([own.status, other.status]).toEqual([201, 201]);
    const removed = await w.admin.call('DELETE', `/v1/teams/${w.teamA1}/members/${w.users.devA1}`, {
      token: w.tokens.teamAdminA1,
    });
    expect(removed.status).toBe(204);
    const status = (id: string) =>
      (w.admin.deps.db.prepare('SELECT status FROM keys WHERE id = ?').get(id) as { status: string }).status;
    expect(status(own.body.key.id)).toBe('revoked');
    expect(status(other.body.key.id)).toBe('active');
    const change = w.admin.deps.db
      .prepare("SELECT token_hashes FROM change_log WHERE entity_type = 'key' AND entity_id = ?")
      .all(own.body.key.id) as { token_hashes: string }[];
    expect(change.at(-1)?.token_hashes).toContain(own.body.key.token_hash);
    const audit = w.admin.deps.db
      .prepare("SELECT action FROM audit_log WHERE entity_id = ? AND action = 'key.revoke'")
      .all(own.body.key.id);
    expect(audit).toHaveLength(1);
  });
});

describe('item 2: a group bound at org level is part of the org access', () => {
  it("an org admin cannot widen the org's access by adding targets to that group (403); a platform admin can", async () => {
    const w = await keysWorld();
    const group = await w.admin.call('POST', '/v1/access-groups', {
      body: { name: 'org-a-models', org_id: w.orgA, targets: ['gpt-4o-mini'] },
    });
    expect(group.status).toBe(201);
    const bound = await w.admin.call('PATCH', `/v1/orgs/${w.orgA}`, {
      body: { access: { mode: 'restrict', access_groups: [group.body.id] } },
    });
    expect(bound.status).toBe(200);
    const widen = { targets: ['gpt-4o-mini', 'claude-haiku'] };
    const byOrgAdmin = await w.admin.call('PATCH', `/v1/access-groups/${group.body.id}`, {
      body: widen,
      token: w.tokens.orgAdminA,
    });
    expect(byOrgAdmin.status).toBe(403);
    const rename = await w.admin.call('PATCH', `/v1/access-groups/${group.body.id}`, {
      body: { name: 'renamed' },
      token: w.tokens.orgAdminA,
    });
    expect(rename.status).toBe(200);
    const byPlatform = await w.admin.call('PATCH', `/v1/access-groups/${group.body.id}`, { body: widen });
    expect(byPlatform.status).toBe(200);
  });
});

describe('item 3: upstream.api_key_env names only provider credentials', () => {
  const target = (apiKeyEnv: string) => ({
    name: `t-${Math.random().toString(36).slice(2, 8)}`,
    upstream: { base_url: 'http://127.0.0.1:9/v1', api_key_env: apiKeyEnv },
  });

  it.each([
    'KEYGATE_MASTER_KEY',
    'KEYGATE_INTERNAL_SECRET',
    'KEYGATE_JWT_SECRET',
    'PATH',
    'HOME',
    'REDIS_URL',
  ])('%s → 400 invalid_request (create and update)', async (name) => {
    const admin = createTestAdmin();
    const created = await admin.call('POST', '/v1/targets', { body: target(name) });
    expect(created.status).toBe(400);
    expect(created.body.error).toMatchObject({ code: 'invalid_request', param: 'upstream.api_key_env' });
    const ok = await admin.call('POST', '/v1/targets', { body: target('KEYGATE_PROVIDER_KEY_OPENAI') });
    expect(ok.status).toBe(201);
    const patched = await admin.call('PATCH', `/v1/targets/${ok.body.id}`, {
      body: { upstream: { api_key_env: name } },
    });
    expect(patched.status).toBe(400);
  });

  it('the configured prefix and allow-list are accepted', async () => {
    const admin = createTestAdmin({ KEYGATE_PROVIDER_ENV_ALLOWLIST: 'OPENAI_API_KEY,GROQ_API_KEY' });
    for (const name of ['KEYGATE_PROVIDER_KEY_X', 'OPENAI_API_KEY', 'GROQ_API_KEY']) {
      expect((await admin.call('POST', '/v1/targets', { body: target(name) })).status).toBe(201);
    }
  });
});
