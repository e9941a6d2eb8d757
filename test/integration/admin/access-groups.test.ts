import { beforeEach, describe, expect, it } from 'vitest';
import { createTestAdmin, type TestAdmin } from '../../helpers/admin-harness.js';

let admin: TestAdmin;

async function target(name: string, tags: string[] = []): Promise<string> {
  const response = await admin.call('POST', '/v1/targets', {
    body: { name, upstream: { base_url: 'http://127.0.0.1:9/v1' }, tags },
  });
  expect(response.status).toBe(201);
  return response.body.id;
}

async function org(name: string): Promise<string> {
  return (await admin.call('POST', '/v1/orgs', { body: { name } })).body.id;
}

/** A new user with `role` in `orgId`, and a JWT for it. */
async function member(orgId: string, role: string): Promise<string> {
  const user = await admin.call('POST', '/v1/users', {
    body: { email: `${role}-${Math.random()}@example.com` },
  });
  await admin.call('PUT', `/v1/orgs/${orgId}/members/${user.body.id}`, { body: { role } });
  return (await admin.call('POST', `/v1/users/${user.body.id}/tokens`, { body: {} })).body.token;
}

async function members(groupId: string, token?: string): Promise<string[]> {
  const response = await admin.call('GET', `/v1/access-groups/${groupId}/targets`, { token });
  expect(response.status).toBe(200);
  return response.body.data.map((t: { name: string }) => t.name);
}

beforeEach(async () => {
  admin = createTestAdmin();
  await target('gpt-4o', ['openai', 'prod']);
  await target('gpt-4o-mini', ['openai']);
  await target('claude-3', ['anthropic', 'prod']);
});

describe('access group membership (GET /v1/access-groups/:id/targets)', () => {
  it('is the explicit targets plus every target the glob and tags select', async () => {
    const group = await admin.call('POST', '/v1/access-groups', {
      body: { name: 'g', targets: ['claude-3'], match: { name_glob: 'gpt-*', tags: ['prod'] } },
    });
    expect(group.status).toBe(201);
    expect(group.body).toMatchObject({
      name: 'g',
      org_id: null,
      targets: ['claude-3'],
      match: { name_glob: 'gpt-*', tags: ['prod'] },
    });
    const response = await admin.call('GET', `/v1/access-groups/${group.body.id}/targets`);
    expect(
      response.body.data.map((t: { name: string; explicit: boolean; matched: boolean }) => [
        t.name,
        t.explicit,
        t.matched,
      ]),
    ).toEqual([
      ['claude-3', true, false],
      ['gpt-4o', false, true],
    ]);
  });

  it('gains a target created later that matches the rule, and a target re-tagged to match', async () => {
    const group = await admin.call('POST', '/v1/access-groups', {
      body: { name: 'g', match: { tags: ['prod'] } },
    });
    expect(await members(group.body.id)).toEqual(['claude-3', 'gpt-4o']);
    await target('gemini', ['prod']);
    expect(await members(group.body.id)).toEqual(['claude-3', 'gemini', 'gpt-4o']);
    const mini = (await admin.call('GET', '/v1/targets')).body.data.find(
      (t: { name: string }) => t.name === 'gpt-4o-mini',
    );
    await admin.call('PATCH', `/v1/targets/${mini.id}`, { body: { tags: ['prod'] } });
    expect(await members(group.body.id)).toEqual(['claude-3', 'gemini', 'gpt-4o', 'gpt-4o-mini']);
    await admin.call('PATCH', `/v1/targets/${mini.id}`, { body: { tags: [] } });
    expect(await members(group.body.id)).toEqual(['claude-3', 'gemini', 'gpt-4o']);
  });

  it('follows a rule change and a replaced explicit list on PATCH; `match: null` removes the rule', async () => {
    const group = await admin.call('POST', '/v1/access-groups', {
      body: { name: 'g', match: { name_glob: 'gpt-*' } },
    });
    await admin.call('PATCH', `/v1/access-groups/${group.body.id}`, {
      body: { match: { name_glob: 'claude-?' } },
    });
    expect(await members(group.body.id)).toEqual(['claude-3']);
    const patched = await admin.call('PATCH', `/v1/access-groups/${group.body.id}`, {
      body: { match: null, targets: ['gpt-4o-mini'] },
    });
    expect(patched.body).toMatchObject({ match: null, targets: ['gpt-4o-mini'] });
    expect(await members(group.body.id)).toEqual(['gpt-4o-mini']);
  });
});

describe('access group validation', () => {
  it('answers 400 naming `targets` for an unknown explicit target', async () => {
    const response = await admin.call('POST', '/v1/access-groups', {
      body: { name: 'g', targets: ['nope'] },
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'invalid_request', param: 'targets' });
  });

  it('answers 409 for a duplicate name (create and rename)', async () => {
    await admin.call('POST', '/v1/access-groups', { body: { name: 'g' } });
    const other = await admin.call('POST', '/v1/access-groups', { body: { name: 'h' } });
    expect((await admin.call('POST', '/v1/access-groups', { body: { name: 'g' } })).status).toBe(409);
    expect(
      (await admin.call('PATCH', `/v1/access-groups/${other.body.id}`, { body: { name: 'g' } })).status,
    ).toBe(409);
  });

  it('refuses to move a group to another org', async () => {
    const o = await org('o');
    const group = await admin.call('POST', '/v1/access-groups', { body: { name: 'g' } });
    const response = await admin.call('PATCH', `/v1/access-groups/${group.body.id}`, { body: { org_id: o } });
    expect(response.status).toBe(400);
    expect(response.body.error.param).toBe('org_id');
  });
});

describe('access group scope and permissions', () => {
  it('lets an org admin manage groups of their org, and only platform admins manage global groups', async () => {
    const o = await org('o');
    const token = await member(o, 'org_admin');
    expect((await admin.call('POST', '/v1/access-groups', { token, body: { name: 'global' } })).status).toBe(
      403,
    );
    const own = await admin.call('POST', '/v1/access-groups', { token, body: { name: 'mine', org_id: o } });
    expect(own.status).toBe(201);
    expect(
      (await admin.call('PATCH', `/v1/access-groups/${own.body.id}`, { token, body: { name: 'm2' } })).status,
    ).toBe(200);
    const global = await admin.call('POST', '/v1/access-groups', { body: { name: 'global' } });
    expect(
      (await admin.call('PATCH', `/v1/access-groups/${global.body.id}`, { token, body: { name: 'x' } }))
        .status,
    ).toBe(403);
    expect((await admin.call('DELETE', `/v1/access-groups/${global.body.id}`, { token })).status).toBe(403);
    expect((await admin.call('DELETE', `/v1/access-groups/${own.body.id}`, { token })).status).toBe(204);
  });

  it('gives an org member (no access_group.manage) 403 on their org, and read access', async () => {
    const o = await org('o');
    const group = await admin.call('POST', '/v1/access-groups', { body: { name: 'g', org_id: o } });
    const token = await member(o, 'org_member');
    expect(
      (await admin.call('POST', '/v1/access-groups', { token, body: { name: 'x', org_id: o } })).status,
    ).toBe(403);
    expect((await admin.call('GET', `/v1/access-groups/${group.body.id}`, { token })).status).toBe(200);
    expect(await members(group.body.id, token)).toEqual([]);
  });

  it("hides another org's groups: 404 on read, members, update, delete and create-in-org; absent from lists", async () => {
    const mine = await org('mine');
    const theirs = await org('theirs');
    const token = await member(mine, 'org_admin');
    const hidden = await admin.call('POST', '/v1/access-groups', {
      body: { name: 'hidden', org_id: theirs },
    });
    const global = await admin.call('POST', '/v1/access-groups', { body: { name: 'shared' } });
    const own = await admin.call('POST', '/v1/access-groups', { body: { name: 'own', org_id: mine } });
    const id = hidden.body.id;
    expect((await admin.call('GET', `/v1/access-groups/${id}`, { token })).status).toBe(404);
    expect((await admin.call('GET', `/v1/access-groups/${id}/targets`, { token })).status).toBe(404);
    expect(
      (await admin.call('PATCH', `/v1/access-groups/${id}`, { token, body: { name: 'x' } })).status,
    ).toBe(404);
    expect((await admin.call('DELETE', `/v1/access-groups/${id}`, { token })).status).toBe(404);
    const create = await admin.call('POST', '/v1/access-groups', {
      token,
      body: { name: 'x', org_id: theirs },
    });
    expect(create.status).toBe(404);
    expect(create.body.error.param).toBe('org_id');
    const list = await admin.call('GET', '/v1/access-groups', { token });
    expect(list.body.data.map((g: { id: string }) => g.id).sort()).toEqual(
      [global.body.id, own.body.id].sort(),
    );
    const all = await admin.call('GET', '/v1/access-groups');
    expect(all.body.data).toHaveLength(3);
  });
});

describe('access group change rows', () => {
  it('appends an access_group change for create, update and delete, and none for a refused write', async () => {
    const group = await admin.call('POST', '/v1/access-groups', { body: { name: 'g' } });
    await admin.call('PATCH', `/v1/access-groups/${group.body.id}`, { body: { targets: ['gpt-4o'] } });
    await admin.call('PATCH', `/v1/access-groups/${group.body.id}`, { body: { targets: ['unknown'] } });
    await admin.call('DELETE', `/v1/access-groups/${group.body.id}`);
    const rows = admin.deps.db
      .prepare("SELECT entity_id FROM change_log WHERE entity_type = 'access_group'")
      .all() as { entity_id: string }[];
    expect(rows.map((r) => r.entity_id)).toEqual([group.body.id, group.body.id, group.body.id]);
  });

  it('removes the bindings to a deleted group (a restricted org then allows nothing through it)', async () => {
    const group = await admin.call('POST', '/v1/access-groups', {
      body: { name: 'g', match: { name_glob: '*' } },
    });
    const o = await admin.call('POST', '/v1/orgs', {
      body: { name: 'o', access: { mode: 'restrict', targets: [], access_groups: [group.body.id] } },
    });
    expect(o.body.access.access_groups).toEqual([group.body.id]);
    await admin.call('DELETE', `/v1/access-groups/${group.body.id}`);
    expect((await admin.call('GET', `/v1/orgs/${o.body.id}`)).body.access).toEqual({
      mode: 'restrict',
      targets: [],
      access_groups: [],
    });
  });
});
