/**
 * The audit log API: shape (actor, via, before/after, request id), scope (an auditor reads
 * its org, a team admin its team, nobody another org's), filters and paging.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from './identity-world.js';

describe('GET /v1/audit', () => {
  let w: World;
  let selfKeyId: string;
  let adminKeyId: string;

  beforeAll(async () => {
    w = await createWorld();
    const selfKey = await w.admin.call('POST', '/v1/keys', {
      token: w.tokens.team_developer,
      body: { name: 'my-key', team_id: w.teams.A1 },
      headers: { 'x-request-id': 'req-self-key' },
    });
    expect(selfKey.status).toBe(201);
    selfKeyId = selfKey.body.key.id;
    const adminKey = await w.admin.call('POST', '/v1/keys', {
      token: w.tokens.team_admin,
      body: { name: 'ops-key', team_id: w.teams.A1 },
    });
    expect(adminKey.status).toBe(201);
    adminKeyId = adminKey.body.key.id;
    await w.admin.call('PATCH', `/v1/teams/${w.teams.A2}`, { body: { rpm_limit: 9 } });
    await w.admin.call('PATCH', `/v1/teams/${w.teams.B1}`, { body: { rpm_limit: 9 } });
  });

  const entries = async (token?: string, query = '') => {
    const response = await w.admin.call('GET', `/v1/audit?limit=1000${query}`, { token });
    expect(response.status).toBe(200);
    return response.body.data as any[];
  };

  it('names the actor and tells a self-service action from an admin action', async () => {
    const [self] = await entries(undefined, `&entity_type=key&entity_id=${selfKeyId}`);
    expect(self).toMatchObject({
      actor: { type: 'user', id: w.users.team_developer },
      via: 'self_service',
      action: 'key.create',
      entity_type: 'key',
      entity_id: selfKeyId,
      org_id: w.orgs.A,
      team_id: w.teams.A1,
      request_id: 'req-self-key',
      before: null,
    });
    expect(self.after).toMatchObject({ id: selfKeyId });
    expect(Date.parse(self.at)).toBe(w.admin.clock.now());
    const [admin] = await entries(undefined, `&entity_type=key&entity_id=${adminKeyId}`);
    expect(admin).toMatchObject({ actor: { type: 'user', id: w.users.team_admin }, via: 'admin' });
  });

  it('master-key actions name the master key as actor', async () => {
    const [created] = await entries(undefined, `&entity_type=org&entity_id=${w.orgs.C}`);
    expect(created).toMatchObject({
      actor: { type: 'master_key', id: null },
      action: 'org.create',
      via: 'admin',
    });
  });

  it('never contains a key secret', async () => {
    const all = JSON.stringify(await entries());
    expect(all).not.toMatch(/kg_[0-9A-Za-z]{46}/);
  });

  it('an org auditor reads every entry of its org and none of another org', async () => {
    const seen = await entries(w.tokens.org_auditor);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((e) => e.org_id))).toEqual(new Set([w.orgs.A]));
    expect(seen.some((e) => e.team_id === w.teams.A2)).toBe(true);
    expect(seen.some((e) => e.entity_type === 'user')).toBe(false);
  });

  it('a team admin reads the entries of its team only', async () => {
    const seen = await entries(w.tokens.team_admin);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((e) => e.team_id))).toEqual(new Set([w.teams.A1]));
  });

  it('another org’s owner sees its own org’s entries, not org A’s, even when filtering for them', async () => {
    expect(await entries(w.tokens.other_org, `&entity_id=${w.teams.A2}`)).toEqual([]);
    const seen = await entries(w.tokens.other_org);
    expect(new Set(seen.map((e) => e.org_id))).toEqual(new Set([w.orgs.B]));
  });

  it('user and platform entries are for platform admins only', async () => {
    const padmin = await entries(w.tokens.platform_admin, '&entity_type=user');
    expect(padmin.length).toBe(Object.keys(w.users).length);
    expect(await entries(w.tokens.org_owner, '&entity_type=user')).toEqual([]);
  });

  it('callers without audit.read anywhere get 403', async () => {
    for (const token of [
      w.tokens.team_developer,
      w.tokens.team_viewer,
      w.tokens.org_member,
      w.tokens.newcomer,
    ]) {
      expect((await w.admin.call('GET', '/v1/audit', { token })).status).toBe(403);
    }
  });

  it('filters by actor and pages newest first without gaps or repeats', async () => {
    const byDev = await entries(undefined, `&actor_id=${w.users.team_developer}`);
    expect(byDev.map((e) => e.entity_id)).toEqual([selfKeyId]);
    const all = await entries();
    const paged: any[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await w.admin.call(
        'GET',
        `/v1/audit?limit=7${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      paged.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const ids = all.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
  });

  it('a malformed cursor or limit → 400 naming it', async () => {
    for (const [query, param] of [
      ['cursor=abc', 'cursor'],
      ['limit=0', 'limit'],
      ['limit=x', 'limit'],
    ]) {
      const response = await w.admin.call('GET', `/v1/audit?${query}`);
      expect(response.status).toBe(400);
      expect(response.body.error.param).toBe(param);
    }
  });
});
