/**
 * Issue 10, names: control characters are refused in every name-like field (item 15), and
 * access-group names are unique per org, not across orgs (item 16).
 */
import { describe, expect, it } from 'vitest';
import { createTestAdmin } from '../../helpers/admin-harness.js';
import { keysWorld } from './keys-world.js';

const HOSTILE = [
  'a\u0000b',
  'evil\u202Egnp.exe',
  'line\r\nX-Injected: 1',
  'tab\u0007bell',
  'iso\u2066late',
  'a\u2028b',
];

describe('item 15: control characters in names → 400', () => {
  it.each(HOSTILE)('%j is refused by every name-like field', async (bad) => {
    const w = await keysWorld();
    const admin = w.admin;
    const attempts: [string, string, unknown][] = [
      ['POST', '/v1/orgs', { name: bad }],
      ['PATCH', `/v1/orgs/${w.orgA}`, { name: bad }],
      ['POST', '/v1/teams', { org_id: w.orgA, name: bad }],
      ['PATCH', `/v1/teams/${w.teamA1}`, { name: bad }],
      ['POST', '/v1/users', { email: 'x@example.test', name: bad }],
      ['PATCH', `/v1/users/${w.users.devA1}`, { name: bad }],
      ['POST', `/v1/teams/${w.teamA1}/service-accounts`, { name: bad }],
      ['POST', '/v1/keys', { name: bad, team_id: w.teamA1 }],
      ['POST', '/v1/access-groups', { name: bad }],
      ['POST', '/v1/access-groups', { name: 'ok', match: { name_glob: bad } }],
      ['POST', '/v1/access-groups', { name: 'ok', match: { tags: [bad] } }],
      ['POST', '/v1/targets', { name: 't1', upstream: { base_url: 'http://127.0.0.1:9', model: bad } }],
      ['POST', '/v1/targets', { name: 't2', upstream: { base_url: 'http://127.0.0.1:9' }, tags: [bad] }],
      ['POST', '/v1/targets', { name: bad, upstream: { base_url: 'http://127.0.0.1:9' } }],
    ];
    const wrong: string[] = [];
    for (const [method, path, body] of attempts) {
      const response = await admin.call(method, path, { body });
      if (response.status !== 400 || response.body.error.code !== 'invalid_request')
        wrong.push(`${method} ${path} ${JSON.stringify(body)} → ${response.status}`);
    }
    expect(wrong).toEqual([]);
  });

  it('ordinary names (accents, CJK, emoji with joiners) still pass', async () => {
    const admin = createTestAdmin();
    for (const name of ['Équipe Søren', '検索チーム', 'devs 👩‍💻', 'a-b_c.d']) {
      expect((await admin.call('POST', '/v1/orgs', { body: { name } })).status, name).toBe(201);
    }
  });
});

describe('item 16: access-group names are unique per org', () => {
  it("two orgs may each have a group named the same; an org admin's 409 never names another org's group", async () => {
    const w = await keysWorld();
    const inB = await w.admin.call('POST', '/v1/access-groups', {
      body: { name: 'models', org_id: w.orgB },
      token: w.tokens.adminB,
    });
    expect(inB.status).toBe(201);
    const inA = await w.admin.call('POST', '/v1/access-groups', {
      body: { name: 'models', org_id: w.orgA },
      token: w.tokens.orgAdminA,
    });
    expect(inA.status).toBe(201);
    const again = await w.admin.call('POST', '/v1/access-groups', {
      body: { name: 'models', org_id: w.orgA },
      token: w.tokens.orgAdminA,
    });
    expect(again.status).toBe(409);
    // Binding by name picks the org's own group, not the other org's.
    const bound = await w.admin.call('PATCH', `/v1/orgs/${w.orgA}`, {
      body: { access: { mode: 'restrict', access_groups: ['models'] } },
    });
    expect(bound.status).toBe(200);
    expect(bound.body.access.access_groups).toEqual([inA.body.id]);
  });

  it('a global group name is reserved within every org (bindings name groups)', async () => {
    const w = await keysWorld();
    expect((await w.admin.call('POST', '/v1/access-groups', { body: { name: 'shared' } })).status).toBe(201);
    const clash = await w.admin.call('POST', '/v1/access-groups', {
      body: { name: 'shared', org_id: w.orgA },
      token: w.tokens.orgAdminA,
    });
    expect(clash.status).toBe(409);
  });
});
