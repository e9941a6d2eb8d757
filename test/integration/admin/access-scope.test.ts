import { beforeEach, describe, expect, it } from 'vitest';
import { createTestAdmin, type TestAdmin } from '../../helpers/admin-harness.js';

let admin: TestAdmin;

type Access = { mode: string; targets?: string[]; access_groups?: string[] };
const restrict = (targets: string[], access_groups: string[] = []): Access => ({
  mode: 'restrict',
  targets,
  access_groups,
});

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const response = await admin.call(method, path, { body });
  if (response.status >= 300)
    throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

const orgOf = (access?: Access) => ok('POST', '/v1/orgs', { name: `org-${Math.random()}`, access });
const teamOf = (orgId: string, access?: Access) =>
  ok('POST', '/v1/teams', { org_id: orgId, name: `team-${Math.random()}`, access });
async function keyOf(teamId: string, access?: Access): Promise<any> {
  const created = await ok('POST', '/v1/keys', {
    name: `key-${Math.random()}`,
    team_id: teamId,
    owner: { type: 'service_account', create: { name: `sa-${Math.random()}` } },
    access,
  });
  return created.key;
}
const effective = async (keyId: string): Promise<string[]> =>
  (await ok('GET', `/v1/keys/${keyId}`)).effective_targets;

beforeEach(async () => {
  admin = createTestAdmin();
  for (const [name, tags] of [
    ['gpt-4o', ['openai']],
    ['gpt-4o-mini', ['openai']],
    ['claude-3', ['anthropic']],
    ['llama', []],
  ] as const) {
    await ok('POST', '/v1/targets', { name, upstream: { base_url: 'http://127.0.0.1:9/v1' }, tags });
  }
});

describe('org access (no parent)', () => {
  it('answers 400 invalid_request for an unknown target or group name', async () => {
    const target = await admin.call('POST', '/v1/orgs', { body: { name: 'o', access: restrict(['nope']) } });
    expect(target.status).toBe(400);
    expect(target.body.error).toMatchObject({ code: 'invalid_request', param: 'access.targets' });
    const group = await admin.call('POST', '/v1/orgs', {
      body: { name: 'o', access: restrict([], ['agrp_nope']) },
    });
    expect(group.status).toBe(400);
    expect(group.body.error).toMatchObject({ code: 'invalid_request', param: 'access.access_groups' });
  });

  it("treats another org's group as unknown (400), and accepts global groups and its own", async () => {
    const a = await orgOf();
    const b = await orgOf();
    const foreign = await ok('POST', '/v1/access-groups', { name: 'b-only', org_id: b.id });
    const own = await ok('POST', '/v1/access-groups', { name: 'a-only', org_id: a.id, targets: ['llama'] });
    const global = await ok('POST', '/v1/access-groups', { name: 'global', targets: ['claude-3'] });
    const refused = await admin.call('PATCH', `/v1/orgs/${a.id}`, {
      body: { access: restrict([], [foreign.id]) },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.param).toBe('access.access_groups');
    const accepted = await ok('PATCH', `/v1/orgs/${a.id}`, { access: restrict([], [own.id, global.id]) });
    expect(accepted.access.access_groups.sort()).toEqual([own.id, global.id].sort());
  });
});

describe('team narrowing', () => {
  it('may select only targets the org allows: anything else is 400 target_not_in_parent_scope (access.targets)', async () => {
    const org = await orgOf(restrict(['gpt-4o', 'claude-3']));
    const refused = await admin.call('POST', '/v1/teams', {
      body: { org_id: org.id, name: 't', access: restrict(['gpt-4o', 'llama']) },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'target_not_in_parent_scope', param: 'access.targets' });
    expect(refused.body.error.message).toContain('llama');
    const team = await teamOf(org.id, restrict(['gpt-4o']));
    expect(team.access).toEqual({ mode: 'restrict', targets: ['gpt-4o'], access_groups: [] });
    const patch = await admin.call('PATCH', `/v1/teams/${team.id}`, {
      body: { access: restrict(['llama']) },
    });
    expect(patch.status).toBe(400);
    expect(patch.body.error.code).toBe('target_not_in_parent_scope');
    expect((await ok('GET', `/v1/teams/${team.id}`)).access.targets).toEqual(['gpt-4o']);
  });

  it('may bind a group whose current members are all allowed by the org, or that the org binds itself', async () => {
    const openai = await ok('POST', '/v1/access-groups', { name: 'openai', match: { tags: ['openai'] } });
    const wide = await ok('POST', '/v1/access-groups', { name: 'wide', match: { name_glob: '*' } });
    const org = await orgOf(restrict(['claude-3'], [openai.id]));
    const refused = await admin.call('POST', '/v1/teams', {
      body: { org_id: org.id, name: 't', access: restrict([], [wide.id]) },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'target_not_in_parent_scope',
      param: 'access.access_groups',
    });
    const team = await teamOf(org.id, restrict([], [openai.id]));
    const key = await keyOf(team.id);
    expect(key.effective_targets).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('accepts a group by name as well as by id', async () => {
    const group = await ok('POST', '/v1/access-groups', { name: 'named', targets: ['llama'] });
    const org = await orgOf(restrict([], ['named']));
    expect(org.access.access_groups).toEqual([group.id]);
  });
});

describe('key narrowing and KeyView.effective_targets', () => {
  it('inherits the team set by default and narrows within it; outside → 400 target_not_in_parent_scope', async () => {
    const org = await orgOf();
    const team = await teamOf(org.id, restrict(['gpt-4o', 'claude-3']));
    const inheriting = await keyOf(team.id);
    expect(inheriting.effective_targets).toEqual(['claude-3', 'gpt-4o']);
    const narrowed = await keyOf(team.id, restrict(['gpt-4o']));
    expect(narrowed.access).toEqual({ mode: 'restrict', targets: ['gpt-4o'], access_groups: [] });
    expect(narrowed.effective_targets).toEqual(['gpt-4o']);
    const refused = await admin.call('PATCH', `/v1/keys/${narrowed.id}`, {
      body: { access: restrict(['llama']) },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'target_not_in_parent_scope', param: 'access.targets' });
    expect(await effective(narrowed.id)).toEqual(['gpt-4o']);
  });

  it('may bind a group the team binds even after the org narrowed below it; the intersection trims it', async () => {
    const gpt = await ok('POST', '/v1/access-groups', { name: 'gpt', match: { name_glob: 'gpt-*' } });
    const twin = await ok('POST', '/v1/access-groups', { name: 'twin', match: { name_glob: 'gpt-*' } });
    const org = await orgOf(restrict(['gpt-4o', 'gpt-4o-mini', 'claude-3']));
    const team = await teamOf(org.id, restrict([], [gpt.id]));
    await ok('PATCH', `/v1/orgs/${org.id}`, { access: restrict(['gpt-4o', 'claude-3']) });
    // the team binds `gpt`, so a key may bind it although gpt-4o-mini is no longer in the team set
    const key = await keyOf(team.id, restrict([], [gpt.id]));
    expect(key.effective_targets).toEqual(['gpt-4o']);
    // the same members under a group no ancestor binds: judged by its members → refused
    const refused = await admin.call('PATCH', `/v1/keys/${key.id}`, {
      body: { access: restrict([], [twin.id]) },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'target_not_in_parent_scope',
      param: 'access.access_groups',
    });
    expect(refused.body.error.message).toContain('gpt-4o-mini');
  });

  it('gives a key bound to a glob group a target created after the key', async () => {
    const gpt = await ok('POST', '/v1/access-groups', { name: 'gpt', match: { name_glob: 'gpt-*' } });
    const team = await teamOf((await orgOf()).id);
    const key = await keyOf(team.id, restrict([], [gpt.id]));
    expect(key.effective_targets).toEqual(['gpt-4o', 'gpt-4o-mini']);
    await ok('POST', '/v1/targets', { name: 'gpt-5', upstream: { base_url: 'http://127.0.0.1:9/v1' } });
    await ok('POST', '/v1/targets', { name: 'o3', upstream: { base_url: 'http://127.0.0.1:9/v1' } });
    expect(await effective(key.id)).toEqual(['gpt-4o', 'gpt-4o-mini', 'gpt-5']);
  });
});

describe('a parent that narrows later', () => {
  it('removes the targets from team and key at once without rewriting their bindings', async () => {
    const org = await orgOf();
    const team = await teamOf(org.id, restrict(['gpt-4o', 'claude-3', 'llama']));
    const key = await keyOf(team.id, restrict(['gpt-4o', 'claude-3']));
    expect(key.effective_targets).toEqual(['claude-3', 'gpt-4o']);

    await ok('PATCH', `/v1/orgs/${org.id}`, { access: restrict(['gpt-4o', 'llama']) });
    expect(await effective(key.id)).toEqual(['gpt-4o']);
    expect((await ok('GET', `/v1/teams/${team.id}`)).access.targets).toEqual(['claude-3', 'gpt-4o', 'llama']);
    expect((await ok('GET', `/v1/keys/${key.id}`)).access.targets).toEqual(['claude-3', 'gpt-4o']);

    await ok('PATCH', `/v1/teams/${team.id}`, { access: restrict(['llama']) });
    expect(await effective(key.id)).toEqual([]);

    await ok('PATCH', `/v1/orgs/${org.id}`, { access: { mode: 'all' } });
    await ok('PATCH', `/v1/teams/${team.id}`, { access: { mode: 'inherit' } });
    expect(await effective(key.id)).toEqual(['claude-3', 'gpt-4o']);
  });

  it('records an org/team change for each scope policy write, so gateways drop affected policies', async () => {
    const org = await orgOf();
    const team = await teamOf(org.id);
    const head = (admin.deps.db.prepare('SELECT MAX(seq) AS s FROM change_log').get() as { s: number }).s;
    await ok('PATCH', `/v1/orgs/${org.id}`, { access: restrict(['llama']) });
    await ok('PATCH', `/v1/teams/${team.id}`, { access: restrict(['llama']) });
    const rows = admin.deps.db
      .prepare('SELECT entity_type, entity_id FROM change_log WHERE seq > ? ORDER BY seq')
      .all(head) as { entity_type: string; entity_id: string }[];
    expect(rows).toEqual([
      { entity_type: 'org', entity_id: org.id },
      { entity_type: 'team', entity_id: team.id },
    ]);
  });
});
