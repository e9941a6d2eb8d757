/**
 * Organizations and org memberships: CRUD, duplicate names, journal rows, scope (members see
 * their org; other orgs are invisible), and membership changes applying on the next request.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createWorld, type World } from './identity-world.js';

describe('orgs', () => {
  let w: World;
  const count = (sql: string, ...params: unknown[]) =>
    (w.admin.deps.db.prepare(`SELECT COUNT(*) AS n FROM ${sql}`).get(...params) as { n: number }).n;
  beforeEach(async () => {
    w = await createWorld();
  });

  it('creates an org with limits and access; a duplicate name → 409', async () => {
    const created = await w.admin.call('POST', '/v1/orgs', {
      body: {
        name: 'acme',
        max_budget: 250,
        rpm_limit: 600,
        access: { mode: 'restrict', targets: ['shared-model'] },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'acme',
      max_budget: 250,
      spend: 0,
      budget_progress: 0,
      rpm_limit: 600,
      access: { mode: 'restrict', targets: ['shared-model'], access_groups: [] },
    });
    const dup = await w.admin.call('POST', '/v1/orgs', { body: { name: 'acme' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.param).toBe('name');
  });

  it('an org owner renames its org (audited + org change row); an auditor cannot (403)', async () => {
    const changes = count('change_log');
    expect(
      (
        await w.admin.call('PATCH', `/v1/orgs/${w.orgs.A}`, {
          token: w.tokens.org_auditor,
          body: { rpm_limit: 1 },
        })
      ).status,
    ).toBe(403);
    expect(count('change_log')).toBe(changes);
    // Limits are the platform admin's (issue 10 item 2, authz-matrix.test.ts); the name is the org's.
    const patched = await w.admin.call('PATCH', `/v1/orgs/${w.orgs.A}`, {
      token: w.tokens.org_owner,
      body: { name: 'org-a-renamed' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.name).toBe('org-a-renamed');
    expect(count('change_log')).toBe(changes + 1);
    expect(count("audit_log WHERE action = 'org.update' AND actor_id = ?", w.users.org_owner)).toBe(1);
  });

  it("an org owner setting the org's caps → 403 naming the first cap field; nothing written", async () => {
    const changes = count('change_log');
    for (const [field, value] of [
      ['max_budget', 10],
      ['tpd_limit', { value: 5, mode: 'shadow' }],
      ['budget_period', 'month'],
      ['soft_budget', 1],
      ['access', { mode: 'restrict', targets: [] }],
    ] as const) {
      const res = await w.admin.call('PATCH', `/v1/orgs/${w.orgs.A}`, {
        token: w.tokens.org_owner,
        body: { name: 'still-org-a', [field]: value },
      });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', param: field });
    }
    expect(count('change_log')).toBe(changes);
    const platform = await w.admin.call('PATCH', `/v1/orgs/${w.orgs.A}`, { body: { soft_budget: 1 } });
    expect(platform.status).toBe(200);
  });

  it('members list their own org only', async () => {
    const list = await w.admin.call('GET', '/v1/orgs', { token: w.tokens.team_viewer });
    expect(list.body.data.map((o: any) => o.id)).toEqual([w.orgs.A]);
    const other = await w.admin.call('GET', '/v1/orgs', { token: w.tokens.other_org });
    expect(other.body.data.map((o: any) => o.id)).toEqual([w.orgs.B]);
    expect((await w.admin.call('GET', '/v1/orgs', { token: w.tokens.newcomer })).body.data).toEqual([]);
  });

  it('a platform admin adds a member, who sees the org at once; removal takes effect on the next request', async () => {
    const token = w.tokens.newcomer;
    expect((await w.admin.call('GET', `/v1/orgs/${w.orgs.A}`, { token })).status).toBe(404);
    // Org admins add only users already in the org (issue 10 item 12, authz-matrix.test.ts).
    const put = await w.admin.call('PUT', `/v1/orgs/${w.orgs.A}/members/${w.users.newcomer}`, {
      body: { role: 'org_auditor' },
    });
    expect(put.status).toBe(200);
    expect((await w.admin.call('GET', `/v1/orgs/${w.orgs.A}`, { token })).status).toBe(200);
    expect((await w.admin.call('GET', `/v1/keys/${w.keys.a2}`, { token })).status).toBe(200);
    expect(
      (
        await w.admin.call('DELETE', `/v1/orgs/${w.orgs.A}/members/${w.users.newcomer}`, {
          token: w.tokens.org_admin,
        })
      ).status,
    ).toBe(204);
    expect((await w.admin.call('GET', `/v1/keys/${w.keys.a2}`, { token })).status).toBe(404);
    expect((await w.admin.call('GET', `/v1/orgs/${w.orgs.A}`, { token })).status).toBe(404);
  });

  it('membership input errors: bad role 400, unknown user 404 naming user_id', async () => {
    const bad = await w.admin.call('PUT', `/v1/orgs/${w.orgs.A}/members/${w.users.newcomer}`, {
      body: { role: 'team_admin' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('role');
    const ghost = await w.admin.call('PUT', `/v1/orgs/${w.orgs.A}/members/usr_ghost`, {
      body: { role: 'org_member' },
    });
    expect(ghost.status).toBe(404);
    expect(ghost.body.error.param).toBe('user_id');
  });

  it('an org with teams cannot be deleted (409, nothing written); an empty one can', async () => {
    const audits = count('audit_log');
    expect((await w.admin.call('DELETE', `/v1/orgs/${w.orgs.A}`)).status).toBe(409);
    expect(count('audit_log')).toBe(audits);
    expect((await w.admin.call('DELETE', `/v1/orgs/${w.orgs.C}`)).status).toBe(204);
    expect((await w.admin.call('GET', `/v1/orgs/${w.orgs.C}`)).status).toBe(404);
  });
});
