import { beforeEach, describe, expect, it } from 'vitest';
import { createTestAdmin, type TestAdmin } from '../../helpers/admin-harness.js';

let admin: TestAdmin;

const body = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  upstream: { base_url: 'http://127.0.0.1:9/v1', model: 'upstream-model', api_key_env: 'OPENAI_API_KEY' },
  pricing: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
  tags: ['openai', 'cheap'],
  ...extra,
});

function changes(entityType: string): { entity_id: string }[] {
  return admin.deps.db
    .prepare('SELECT entity_id FROM change_log WHERE entity_type = ? ORDER BY seq')
    .all(entityType) as { entity_id: string }[];
}

/** A user holding `role` in a new org, with a JWT. */
async function orgUser(role: string): Promise<{ token: string; orgId: string }> {
  const org = await admin.call('POST', '/v1/orgs', { body: { name: `org-${role}-${Math.random()}` } });
  const user = await admin.call('POST', '/v1/users', {
    body: { email: `${role}-${Math.random()}@example.com` },
  });
  await admin.call('PUT', `/v1/orgs/${org.body.id}/members/${user.body.id}`, { body: { role } });
  const minted = await admin.call('POST', `/v1/users/${user.body.id}/tokens`, { body: {} });
  return { token: minted.body.token, orgId: org.body.id };
}

beforeEach(() => {
  admin = createTestAdmin();
});

describe('POST /v1/targets', () => {
  it('stores pricing as micro-USD per Mtok and returns it in USD, with upstream and tags', async () => {
    const created = await admin.call('POST', '/v1/targets', { body: body('gpt-4o-mini') });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'gpt-4o-mini',
      upstream: { base_url: 'http://127.0.0.1:9/v1', model: 'upstream-model', api_key_env: 'OPENAI_API_KEY' },
      pricing: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
      tags: ['openai', 'cheap'],
    });
    const row = admin.deps.db
      .prepare('SELECT input_micros_per_mtok, output_micros_per_mtok FROM targets WHERE id = ?')
      .get(created.body.id);
    expect(row).toEqual({ input_micros_per_mtok: 150_000, output_micros_per_mtok: 600_000 });
  });

  it('defaults optional fields: no upstream model, no key env, zero pricing, no tags', async () => {
    const created = await admin.call('POST', '/v1/targets', {
      body: { name: 'bare', upstream: { base_url: 'https://api.example.com' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      upstream: { model: null, api_key_env: null },
      pricing: { input_per_mtok: 0, output_per_mtok: 0 },
      tags: [],
    });
  });

  it.each([
    ['relative', '/v1'],
    ['not http', 'ftp://example.com/v1'],
    ['not a URL', 'example.com'],
    ['with credentials', 'http://user:pw@example.com/v1'],
    ['with a query', 'http://example.com/v1?x=1'],
  ])('refuses a base_url that is %s with 400 naming upstream.base_url', async (_label, baseUrl) => {
    const response = await admin.call('POST', '/v1/targets', {
      body: body('x', { upstream: { base_url: baseUrl } }),
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'invalid_request', param: 'upstream.base_url' });
  });

  it('refuses names a client could not send as a model or that contain glob characters', async () => {
    for (const name of ['', 'has space', 'gpt-*', 'a?b']) {
      const response = await admin.call('POST', '/v1/targets', { body: body(name) });
      expect(response.status, name).toBe(400);
      expect(response.body.error.param).toBe('name');
    }
  });

  it('answers 409 for a duplicate name, on create and on rename', async () => {
    await admin.call('POST', '/v1/targets', { body: body('a') });
    const other = await admin.call('POST', '/v1/targets', { body: body('b') });
    const duplicate = await admin.call('POST', '/v1/targets', { body: body('a') });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toMatchObject({ code: 'conflict', param: 'name' });
    const rename = await admin.call('PATCH', `/v1/targets/${other.body.id}`, { body: { name: 'a' } });
    expect(rename.status).toBe(409);
  });

  it('lets only platform admins create, update and delete (an org admin gets 403)', async () => {
    const existing = await admin.call('POST', '/v1/targets', { body: body('a') });
    const { token } = await orgUser('org_admin');
    expect((await admin.call('POST', '/v1/targets', { token, body: body('b') })).status).toBe(403);
    expect(
      (await admin.call('PATCH', `/v1/targets/${existing.body.id}`, { token, body: { tags: [] } })).status,
    ).toBe(403);
    expect((await admin.call('DELETE', `/v1/targets/${existing.body.id}`, { token })).status).toBe(403);
  });

  it('lets any authenticated caller list and read targets, and nobody unauthenticated', async () => {
    const existing = await admin.call('POST', '/v1/targets', { body: body('a') });
    const { token } = await orgUser('org_member');
    const list = await admin.call('GET', '/v1/targets', { token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((t: { name: string }) => t.name)).toEqual(['a']);
    expect((await admin.call('GET', `/v1/targets/${existing.body.id}`, { token })).status).toBe(200);
    expect((await admin.call('GET', '/v1/targets', { token: null })).status).toBe(401);
  });
});

describe('GET /v1/targets', () => {
  it('pages in creation order and filters by tag', async () => {
    for (const [i, name] of ['t1', 't2', 't3'].entries()) {
      await admin.call('POST', '/v1/targets', { body: body(name, { tags: i === 1 ? ['special'] : [] }) });
      admin.clock.advance(1);
    }
    const first = await admin.call('GET', '/v1/targets?limit=2');
    expect(first.body.data.map((t: { name: string }) => t.name)).toEqual(['t1', 't2']);
    const second = await admin.call('GET', `/v1/targets?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.data.map((t: { name: string }) => t.name)).toEqual(['t3']);
    expect(second.body.next_cursor).toBeNull();
    const tagged = await admin.call('GET', '/v1/targets?tag=special');
    expect(tagged.body.data.map((t: { name: string }) => t.name)).toEqual(['t2']);
  });

  it('answers 404 for an unknown id', async () => {
    expect((await admin.call('GET', '/v1/targets/tgt_nope')).status).toBe(404);
  });
});

describe('PATCH and DELETE /v1/targets/:id', () => {
  it('updates only the fields sent (upstream and pricing are merged, null clears)', async () => {
    const created = await admin.call('POST', '/v1/targets', { body: body('a') });
    const patched = await admin.call('PATCH', `/v1/targets/${created.body.id}`, {
      body: { upstream: { model: null }, pricing: { output_per_mtok: 2 }, tags: ['x', 'x', 'y'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      upstream: { base_url: 'http://127.0.0.1:9/v1', model: null, api_key_env: 'OPENAI_API_KEY' },
      pricing: { input_per_mtok: 0.15, output_per_mtok: 2 },
      tags: ['x', 'y'],
    });
  });

  it('deletes the target with its bindings and explicit group memberships', async () => {
    const target = await admin.call('POST', '/v1/targets', { body: body('a') });
    await admin.call('POST', '/v1/targets', { body: body('b') });
    const group = await admin.call('POST', '/v1/access-groups', { body: { name: 'g', targets: ['a', 'b'] } });
    const org = await admin.call('POST', '/v1/orgs', {
      body: { name: 'o', access: { mode: 'restrict', targets: ['a'], access_groups: [] } },
    });
    expect(org.body.access.targets).toEqual(['a']);
    expect((await admin.call('DELETE', `/v1/targets/${target.body.id}`)).status).toBe(204);
    expect((await admin.call('GET', `/v1/targets/${target.body.id}`)).status).toBe(404);
    expect((await admin.call('GET', `/v1/orgs/${org.body.id}`)).body.access).toEqual({
      mode: 'restrict',
      targets: [],
      access_groups: [],
    });
    expect((await admin.call('GET', `/v1/access-groups/${group.body.id}`)).body.targets).toEqual(['b']);
  });

  it('appends a target change (and notifies gateways) for every create, update and delete', async () => {
    const before = admin.notifications.count;
    const created = await admin.call('POST', '/v1/targets', { body: body('a') });
    await admin.call('PATCH', `/v1/targets/${created.body.id}`, { body: { tags: ['z'] } });
    await admin.call('DELETE', `/v1/targets/${created.body.id}`);
    expect(changes('target').map((c) => c.entity_id)).toEqual([
      created.body.id,
      created.body.id,
      created.body.id,
    ]);
    expect(admin.notifications.count - before).toBe(3);
    const audit = admin.deps.db
      .prepare("SELECT action FROM audit_log WHERE entity_type = 'target' ORDER BY id")
      .all() as { action: string }[];
    expect(audit.map((a) => a.action)).toEqual(['target.create', 'target.update', 'target.delete']);
  });

  it('writes nothing when the update is refused', async () => {
    await admin.call('POST', '/v1/targets', { body: body('a') });
    const other = await admin.call('POST', '/v1/targets', { body: body('b') });
    const head = changes('target').length;
    await admin.call('PATCH', `/v1/targets/${other.body.id}`, { body: { name: 'a', tags: ['changed'] } });
    expect(changes('target').length).toBe(head);
    expect((await admin.call('GET', `/v1/targets/${other.body.id}`)).body.tags).toEqual(['openai', 'cheap']);
  });
});
