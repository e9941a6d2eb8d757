/**
 * The keys API over HTTP (in-process app.request): success and 400/401/403/404 paths of every
 * route, audit and change rows written with each mutation and never without it, secrets shown
 * only by create/regenerate.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';
import { displaySecret, isWellFormedSecret } from '../../../src/keys/secret.js';
import { countRows, sha256Hex } from './keys-fixtures.js';
import { keysWorld, type KeysWorld } from './keys-world.js';

const KEY_VIEW_FIELDS = [
  'id',
  'name',
  'token_hash',
  'display',
  'team',
  'org_id',
  'owner',
  'status',
  'max_budget',
  'spend',
  'budget_progress',
  'rpm_limit',
  'tpm_limit',
  'rph_limit',
  'rpd_limit',
  'tpd_limit',
  'expires_at',
  'access',
  'effective_targets',
  'created_at',
  'updated_at',
  'last_used_at',
  'created_by',
];

let w: KeysWorld;
const internal = new InternalTokens(TEST_INTERNAL_SECRET);

beforeEach(async () => {
  w = await keysWorld();
});

async function resolve(hash: string) {
  return w.admin.call('GET', `/internal/keys/${hash}`, {
    token: null,
    headers: { authorization: await internal.authorizationHeader() },
  });
}

function auditRows(entityId: string) {
  return w.admin.deps.db.prepare('SELECT * FROM audit_log WHERE entity_id = ? ORDER BY id').all(entityId) as {
    action: string;
    via: string;
    actor_type: string;
    actor_id: string | null;
    before: string | null;
    after: string | null;
    request_id: string;
  }[];
}

function changeRows(entityId: string) {
  return (
    w.admin.deps.db.prepare('SELECT * FROM change_log WHERE entity_id = ? ORDER BY seq').all(entityId) as {
      seq: number;
      entity_type: string;
      token_hashes: string;
    }[]
  ).map((row) => ({ ...row, token_hashes: JSON.parse(row.token_hashes) as string[] }));
}

describe('POST /v1/keys', () => {
  it('creates a key: the secret is shown once, only its sha256 and display form are stored', async () => {
    const res = await w.createKey({
      name: 'billing-service',
      team_id: w.teamA1,
      max_budget: 12.5,
      rpm_limit: 60,
      tpd_limit: 100_000,
      expires_in_days: 30,
      metadata: { app: 'billing' },
    });
    expect(res.status).toBe(201);
    const { key, secret } = res.body;
    expect(isWellFormedSecret(secret)).toBe(true);
    expect(Object.keys(key)).toEqual(expect.arrayContaining(KEY_VIEW_FIELDS));
    expect(key).not.toHaveProperty('secret');
    expect(key.token_hash).toBe(sha256Hex(secret));
    expect(key.display).toBe(displaySecret(secret));
    expect(key).toMatchObject({
      name: 'billing-service',
      team: { id: w.teamA1, name: 'a1' },
      org_id: w.orgA,
      status: 'active',
      max_budget: 12.5,
      spend: 0,
      budget_progress: 0,
      rpm_limit: 60,
      tpm_limit: null,
      tpd_limit: 100_000,
      access: { mode: 'inherit', targets: [], access_groups: [] },
      effective_targets: ['claude-haiku', 'gpt-4o-mini'],
      last_used_at: null,
      metadata: { app: 'billing' },
      self_service: false,
    });
    expect(Date.parse(key.expires_at)).toBe(w.admin.clock.now() + 30 * 86_400_000);
    const row = w.admin.deps.db.prepare('SELECT * FROM keys WHERE id = ?').get(key.id) as any;
    expect(row.max_budget_micros).toBe(12_500_000);
    expect(row.token_hash).toBe(sha256Hex(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('a master-key caller gets a key with no human owner; created_by is null', async () => {
    const res = await w.createKey({ name: 'k', team_id: w.teamA1 });
    expect(res.body.key.owner).toEqual({ type: 'user', id: null, name: null });
    expect(res.body.key.created_by).toBeNull();
  });

  it('owner {type:"user"} is the calling user ("You")', async () => {
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, owner: { type: 'user' } },
      w.tokens.teamAdminA1,
    );
    expect(res.status).toBe(201);
    expect(res.body.key.owner).toEqual({ type: 'user', id: w.users.teamAdminA1, name: 'Tim TeamAdmin' });
    expect(res.body.key.created_by).toBe(w.users.teamAdminA1);
    expect(res.body.key.self_service).toBe(false);
  });

  it('owner can be an existing service account of the same team', async () => {
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, owner: { type: 'service_account', id: w.saA1 } },
      w.tokens.teamAdminA1,
    );
    expect(res.status).toBe(201);
    expect(res.body.key.owner).toEqual({ type: 'service_account', id: w.saA1, name: 'ci-bot' });
  });

  it('a service account of another team is refused (400), an unknown or invisible one is 404', async () => {
    const saA2 = w.seed.serviceAccount(w.teamA2, 'other-bot');
    const saB1 = w.seed.serviceAccount(w.teamB1, 'foreign-bot');
    const other = await w.createKey(
      { name: 'k', team_id: w.teamA1, owner: { type: 'service_account', id: saA2 } },
      w.tokens.orgAdminA,
    );
    expect(other.status).toBe(400);
    expect(other.body.error.param).toBe('owner.id');
    for (const id of [saB1, 'sa_missing']) {
      const res = await w.createKey(
        { name: 'k', team_id: w.teamA1, owner: { type: 'service_account', id } },
        w.tokens.orgAdminA,
      );
      expect(res.status).toBe(404);
      expect(res.body.error.param).toBe('owner.id');
    }
    expect(countRows(w.admin.deps.db, 'keys')).toBe(0);
  });

  it('owner {type:"service_account", create} creates the account in the same transaction', async () => {
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, owner: { type: 'service_account', create: { name: 'nightly-job' } } },
      w.tokens.teamAdminA1,
    );
    expect(res.status).toBe(201);
    const sa = w.admin.deps.db
      .prepare('SELECT * FROM service_accounts WHERE name = ?')
      .get('nightly-job') as any;
    expect(sa.team_id).toBe(w.teamA1);
    expect(res.body.key.owner).toEqual({ type: 'service_account', id: sa.id, name: 'nightly-job' });
    expect(auditRows(sa.id).map((r) => r.action)).toEqual(['service_account.create']);
  });

  it('a service account created with a key is audited in the API view, as one created on its own', async () => {
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, owner: { type: 'service_account', create: { name: 'with-key' } } },
      w.tokens.teamAdminA1,
    );
    const alone = await w.admin.call('POST', `/v1/teams/${w.teamA1}/service-accounts`, {
      body: { name: 'alone' },
      token: w.tokens.teamAdminA1,
    });
    expect(alone.status).toBe(201);
    const withKey = JSON.parse(auditRows(res.body.key.owner.id)[0]!.after!);
    const onItsOwn = JSON.parse(auditRows(alone.body.id)[0]!.after!);
    expect(onItsOwn).toEqual(alone.body);
    expect(Object.keys(withKey).sort()).toEqual(Object.keys(onItsOwn).sort());
    // The view at the audit (the key is inserted after its owner, in the same transaction).
    expect(withKey).toMatchObject({
      id: res.body.key.owner.id,
      team_id: w.teamA1,
      org_id: onItsOwn.org_id,
      name: 'with-key',
      key_count: 0,
      active_key_count: 0,
    });
  });

  it('a failed create (duplicate service-account name) leaves no key, no account, no audit, no change', async () => {
    const before = {
      keys: countRows(w.admin.deps.db, 'keys'),
      sas: countRows(w.admin.deps.db, 'service_accounts'),
      audit: countRows(w.admin.deps.db, 'audit_log'),
      changes: countRows(w.admin.deps.db, 'change_log'),
    };
    const notified = w.admin.notifications.count;
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, owner: { type: 'service_account', create: { name: 'ci-bot' } } },
      w.tokens.teamAdminA1,
    );
    expect(res.status).toBe(409);
    expect(res.body.error.param).toBe('owner.create.name');
    expect({
      keys: countRows(w.admin.deps.db, 'keys'),
      sas: countRows(w.admin.deps.db, 'service_accounts'),
      audit: countRows(w.admin.deps.db, 'audit_log'),
      changes: countRows(w.admin.deps.db, 'change_log'),
    }).toEqual(before);
    expect(w.admin.notifications.count).toBe(notified);
  });

  it('a successful create writes exactly one audit row and one change row carrying its hash', async () => {
    const res = await w.createKey({ name: 'k', team_id: w.teamA1 }, w.tokens.teamAdminA1);
    const audit = auditRows(res.body.key.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'key.create',
      via: 'admin',
      actor_type: 'user',
      actor_id: w.users.teamAdminA1,
      request_id: res.headers.get('x-request-id'),
    });
    expect(audit[0]!.after).not.toContain(res.body.secret);
    expect(changeRows(res.body.key.id)).toEqual([
      expect.objectContaining({ entity_type: 'key', token_hashes: [res.body.key.token_hash] }),
    ]);
    expect(w.admin.notifications.count).toBeGreaterThan(0);
  });

  it.each([
    [{ team_id: 'x' }, 'name'],
    [{ name: '', team_id: 'x' }, 'name'],
    [{ name: 'k' }, 'team_id'],
    [{ name: 'k', team_id: 'x', rpm_limit: -1 }, 'rpm_limit'],
    [{ name: 'k', team_id: 'x', rpm_limit: 1.5 }, 'rpm_limit'],
    [{ name: 'k', team_id: 'x', max_budget: 'ten' }, 'max_budget'],
    [{ name: 'k', team_id: 'x', expires_at: 'tomorrow' }, 'expires_at'],
    [{ name: 'k', team_id: 'x', expires_in_days: 0 }, 'expires_in_days'],
    [{ name: 'k', team_id: 'x', owner: { type: 'robot' } }, 'owner'],
    [{ name: 'k', team_id: 'x', access: { mode: 'all' } }, 'access'],
    [{ name: 'k', team_id: 'x', metadata: ['not', 'an', 'object'] }, 'metadata'],
  ])('schema violation %j → 400 invalid_request naming the field', async (body, param) => {
    const res = await w.createKey(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.param).toMatch(new RegExp(`^${param}`));
  });

  it('an expiry in the past, or both expiry fields, → 400 naming the field', async () => {
    const past = await w.createKey({
      name: 'k',
      team_id: w.teamA1,
      expires_at: new Date(w.admin.clock.now() - 1000).toISOString(),
    });
    expect(past.status).toBe(400);
    expect(past.body.error.param).toBe('expires_at');
    const both = await w.createKey({
      name: 'k',
      team_id: w.teamA1,
      expires_at: new Date(w.admin.clock.now() + 86_400_000).toISOString(),
      expires_in_days: 1,
    });
    expect(both.status).toBe(400);
    expect(both.body.error.param).toBe('expires_in_days');
  });

  it('malformed JSON → 400, never 500', async () => {
    const res = await w.admin.call('POST', '/v1/keys', { body: '{"name": ' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('no or bad credentials → 401', async () => {
    expect((await w.createKey({ name: 'k', team_id: w.teamA1 }, null as any)).status).toBe(401);
    expect((await w.createKey({ name: 'k', team_id: w.teamA1 }, 'not-a-token')).status).toBe(401);
  });

  it("an unknown team or one outside the caller's scope → 404; a visible team without key rights → 403", async () => {
    expect((await w.createKey({ name: 'k', team_id: 'team_missing' })).status).toBe(404);
    const foreign = await w.createKey({ name: 'k', team_id: w.teamB1 }, w.tokens.orgAdminA);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.param).toBe('team_id');
    expect((await w.createKey({ name: 'k', team_id: w.teamA2 }, w.tokens.devA1)).status).toBe(404);
    expect((await w.createKey({ name: 'k', team_id: w.teamA1 }, w.tokens.viewerA1)).status).toBe(403);
    expect((await w.createKey({ name: 'k', team_id: w.teamA1 }, w.tokens.auditorA)).status).toBe(403);
    expect(countRows(w.admin.deps.db, 'keys')).toBe(0);
    expect(countRows(w.admin.deps.db, 'audit_log')).toBe(0);
  });

  it('an admin may narrow access to targets the team allows; effective_targets follows', async () => {
    const res = await w.createKey({
      name: 'k',
      team_id: w.teamA1,
      access: { mode: 'restrict', targets: ['gpt-4o-mini'] },
    });
    expect(res.status).toBe(201);
    expect(res.body.key.access).toEqual({ mode: 'restrict', targets: ['gpt-4o-mini'], access_groups: [] });
    expect(res.body.key.effective_targets).toEqual(['gpt-4o-mini']);
  });
});

describe('GET /v1/keys/:id', () => {
  it('returns the KeyView (never the secret) to callers with key.read in scope', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    for (const token of [
      undefined,
      w.tokens.platformAdmin,
      w.tokens.orgAdminA,
      w.tokens.auditorA,
      w.tokens.teamAdminA1,
    ]) {
      const res = await w.admin.call(
        'GET',
        `/v1/keys/${created.body.key.id}`,
        token === undefined ? {} : { token },
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual(created.body.key);
      expect(JSON.stringify(res.body)).not.toContain(created.body.secret);
    }
  });

  it("unknown ids and keys outside the caller's scope → 404; no token → 401", async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    const id = created.body.key.id;
    expect((await w.admin.call('GET', '/v1/keys/key_missing')).status).toBe(404);
    for (const token of [w.tokens.adminB, w.tokens.viewerA1, w.tokens.devA1]) {
      const res = await w.admin.call('GET', `/v1/keys/${id}`, { token });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await w.admin.call('GET', `/v1/keys/${id}`, { token: null })).status).toBe(401);
  });
});

describe('GET /v1/keys', () => {
  async function ids(query: string, token?: string): Promise<string[]> {
    const res = await w.admin.call('GET', `/v1/keys${query}`, token === undefined ? {} : { token });
    expect(res.status).toBe(200);
    return res.body.data.map((k: any) => k.name).sort();
  }

  beforeEach(async () => {
    await w.createKey({ name: 'a1-admin', team_id: w.teamA1 }, w.tokens.teamAdminA1);
    await w.createKey({ name: 'a1-dev', team_id: w.teamA1 }, w.tokens.devA1);
    await w.createKey({ name: 'a1-dev2', team_id: w.teamA1 }, w.tokens.dev2A1);
    await w.createKey({ name: 'a2-master', team_id: w.teamA2 });
    await w.createKey({ name: 'b1-master', team_id: w.teamB1 });
  });

  it("view=all lists every key in the caller's scope; other orgs stay invisible", async () => {
    expect(await ids('')).toEqual(['a1-admin', 'a1-dev', 'a1-dev2', 'a2-master', 'b1-master']);
    expect(await ids('?view=all', w.tokens.orgAdminA)).toEqual([
      'a1-admin',
      'a1-dev',
      'a1-dev2',
      'a2-master',
    ]);
    expect(await ids('?view=all', w.tokens.auditorA)).toEqual(['a1-admin', 'a1-dev', 'a1-dev2', 'a2-master']);
    expect(await ids('', w.tokens.teamAdminA1)).toEqual(['a1-admin', 'a1-dev', 'a1-dev2']);
    expect(await ids('', w.tokens.adminB)).toEqual(['b1-master']);
    expect(await ids('', w.tokens.viewerA1)).toEqual([]);
  });

  it('view=mine lists keys owned by the caller; self-service callers always get mine', async () => {
    expect(await ids('?view=mine', w.tokens.teamAdminA1)).toEqual(['a1-admin']);
    expect(await ids('?view=all', w.tokens.devA1)).toEqual(['a1-dev']);
    expect(await ids('', w.tokens.dev2A1)).toEqual(['a1-dev2']);
    expect(await ids('?view=mine')).toEqual([]);
  });

  it('filters by team_id, status and q (name or display, case-insensitive)', async () => {
    expect(await ids(`?team_id=${w.teamA2}`)).toEqual(['a2-master']);
    const dev = await w.admin.call('GET', '/v1/keys?q=A1-DEV2');
    expect(dev.body.data.map((k: any) => k.name)).toEqual(['a1-dev2']);
    const display = dev.body.data[0].display as string;
    expect(await ids(`?q=${encodeURIComponent(display.slice(0, 7))}`)).toContain('a1-dev2');
    expect(await ids('?q=%25')).toEqual([]);
    const id = dev.body.data[0].id;
    await w.admin.call('POST', `/v1/keys/${id}/revoke`);
    expect(await ids('?status=revoked')).toEqual(['a1-dev2']);
    expect(await ids('?status=active')).not.toContain('a1-dev2');
  });

  it('paginates with limit and an opaque cursor, without repeats or gaps', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: any } = await w.admin.call(
        'GET',
        `/v1/keys?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((k: any) => k.name));
      cursor = res.body.next_cursor;
    } while (cursor !== null);
    expect(seen.sort()).toEqual(['a1-admin', 'a1-dev', 'a1-dev2', 'a2-master', 'b1-master']);
  });

  it('bad query values → 400; a team_id outside the scope → 404; no token → 401', async () => {
    expect((await w.admin.call('GET', '/v1/keys?view=everything')).status).toBe(400);
    expect((await w.admin.call('GET', '/v1/keys?status=expired')).status).toBe(400);
    expect((await w.admin.call('GET', '/v1/keys?limit=0')).status).toBe(400);
    expect(
      (await w.admin.call('GET', `/v1/keys?team_id=${w.teamB1}`, { token: w.tokens.orgAdminA })).status,
    ).toBe(404);
    expect((await w.admin.call('GET', '/v1/keys', { token: null })).status).toBe(401);
  });
});

describe('PATCH /v1/keys/:id', () => {
  it('updates name, limits, budget, expiry, access and metadata; audit has before/after; change carries the hash', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1, rpm_limit: 10, expires_in_days: 5 });
    const { id, token_hash } = created.body.key;
    const res = await w.admin.call('PATCH', `/v1/keys/${id}`, {
      token: w.tokens.teamAdminA1,
      body: {
        name: 'renamed',
        rpm_limit: null,
        tpm_limit: 5000,
        max_budget: 2.25,
        expires_at: null,
        access: { mode: 'restrict', targets: ['claude-haiku'] },
        metadata: { owner: 'ops' },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'renamed',
      rpm_limit: null,
      tpm_limit: 5000,
      max_budget: 2.25,
      expires_at: null,
      effective_targets: ['claude-haiku'],
      metadata: { owner: 'ops' },
    });
    const audit = auditRows(id);
    expect(audit.map((r) => r.action)).toEqual(['key.create', 'key.update']);
    expect(JSON.parse(audit[1]!.before!).name).toBe('k');
    expect(JSON.parse(audit[1]!.after!).name).toBe('renamed');
    expect(changeRows(id).map((c) => c.token_hashes)).toEqual([[token_hash], [token_hash]]);
  });

  it('400 on bad fields (nothing written), 403 without key.update, 404 outside scope, 401 without token', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    const id = created.body.key.id;
    const audit = countRows(w.admin.deps.db, 'audit_log');
    const bad = await w.admin.call('PATCH', `/v1/keys/${id}`, { body: { tpm_limit: 0 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('tpm_limit');
    const past = await w.admin.call('PATCH', `/v1/keys/${id}`, {
      body: { expires_at: '2000-01-01T00:00:00Z' },
    });
    expect(past.status).toBe(400);
    const narrow = await w.admin.call('PATCH', `/v1/keys/${id}`, {
      body: { name: 'half-applied', rpm_limit: 7, access: { mode: 'restrict', targets: ['no-such-target'] } },
    });
    expect(narrow.status).toBe(400);
    // The failure came after the UPDATE inside the transaction: all of it rolled back.
    expect((await w.admin.call('GET', `/v1/keys/${id}`)).body).toMatchObject({ name: 'k', rpm_limit: null });
    expect(countRows(w.admin.deps.db, 'audit_log')).toBe(audit);
    expect(countRows(w.admin.deps.db, 'change_log')).toBe(1);
    expect(
      (await w.admin.call('PATCH', `/v1/keys/${id}`, { token: w.tokens.auditorA, body: { name: 'x' } }))
        .status,
    ).toBe(403);
    expect(
      (await w.admin.call('PATCH', `/v1/keys/${id}`, { token: w.tokens.adminB, body: { name: 'x' } })).status,
    ).toBe(404);
    expect((await w.admin.call('PATCH', '/v1/keys/key_missing', { body: { name: 'x' } })).status).toBe(404);
    expect((await w.admin.call('PATCH', `/v1/keys/${id}`, { token: null, body: { name: 'x' } })).status).toBe(
      401,
    );
    expect(countRows(w.admin.deps.db, 'audit_log')).toBe(audit);
  });
});

describe('POST /v1/keys/:id/revoke', () => {
  it('marks the key revoked, keeps the record, and the internal API answers status revoked', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    const { id, token_hash } = created.body.key;
    const res = await w.admin.call('POST', `/v1/keys/${id}/revoke`, { token: w.tokens.orgAdminA });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('revoked');
    expect(res.body).not.toHaveProperty('secret');
    expect((await w.admin.call('GET', `/v1/keys/${id}`)).body.status).toBe('revoked');
    const row = w.admin.deps.db.prepare('SELECT status FROM keys WHERE id = ?').get(id) as { status: string };
    expect(row.status).toBe('revoked');
    const resolved = await resolve(token_hash);
    expect(resolved.status).toBe(200);
    expect(resolved.body.status).toBe('revoked');
    expect(auditRows(id).map((r) => [r.action, r.via])).toEqual([
      ['key.create', 'admin'],
      ['key.revoke', 'admin'],
    ]);
    expect(changeRows(id).at(-1)!.token_hashes).toEqual([token_hash]);
  });

  it('revoking twice answers the revoked key and writes nothing more', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    const id = created.body.key.id;
    await w.admin.call('POST', `/v1/keys/${id}/revoke`);
    const audit = countRows(w.admin.deps.db, 'audit_log');
    const changes = countRows(w.admin.deps.db, 'change_log');
    const again = await w.admin.call('POST', `/v1/keys/${id}/revoke`);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('revoked');
    expect(countRows(w.admin.deps.db, 'audit_log')).toBe(audit);
    expect(countRows(w.admin.deps.db, 'change_log')).toBe(changes);
  });

  it('403 without key.revoke, 404 outside scope or unknown, 401 without token', async () => {
    const id = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key.id;
    expect((await w.admin.call('POST', `/v1/keys/${id}/revoke`, { token: w.tokens.auditorA })).status).toBe(
      403,
    );
    expect((await w.admin.call('POST', `/v1/keys/${id}/revoke`, { token: w.tokens.adminB })).status).toBe(
      404,
    );
    expect((await w.admin.call('POST', '/v1/keys/key_missing/revoke')).status).toBe(404);
    expect((await w.admin.call('POST', `/v1/keys/${id}/revoke`, { token: null })).status).toBe(401);
    expect((await w.admin.call('GET', `/v1/keys/${id}`)).body.status).toBe('active');
  });
});

describe('DELETE /v1/keys/:id', () => {
  it('deletes the key: 204, then 404 everywhere, with audit and a change row naming its hashes', async () => {
    const created = await w.createKey({
      name: 'k',
      team_id: w.teamA1,
      access: { mode: 'restrict', targets: ['gpt-4o-mini'] },
    });
    const { id, token_hash } = created.body.key;
    const res = await w.admin.call('DELETE', `/v1/keys/${id}`, { token: w.tokens.teamAdminA1 });
    expect(res.status).toBe(204);
    expect((await w.admin.call('GET', `/v1/keys/${id}`)).status).toBe(404);
    expect((await resolve(token_hash)).status).toBe(404);
    expect(
      w.admin.deps.db
        .prepare("SELECT COUNT(*) AS n FROM access_bindings WHERE scope_type = 'key' AND scope_id = ?")
        .get(id),
    ).toEqual({ n: 0 });
    expect(auditRows(id).map((r) => r.action)).toEqual(['key.create', 'key.delete']);
    expect(changeRows(id).at(-1)!.token_hashes).toEqual([token_hash]);
    expect((await w.admin.call('DELETE', `/v1/keys/${id}`)).status).toBe(404);
  });

  it('403 without key.delete, 404 outside scope, 401 without token', async () => {
    const id = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key.id;
    expect((await w.admin.call('DELETE', `/v1/keys/${id}`, { token: w.tokens.auditorA })).status).toBe(403);
    expect((await w.admin.call('DELETE', `/v1/keys/${id}`, { token: w.tokens.adminB })).status).toBe(404);
    expect((await w.admin.call('DELETE', `/v1/keys/${id}`, { token: null })).status).toBe(401);
    expect((await w.admin.call('GET', `/v1/keys/${id}`)).status).toBe(200);
  });
});

describe('POST /v1/keys/:id/regenerate', () => {
  it('without a grace period the old secret stops resolving at once', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    const old = created.body.key.token_hash;
    const res = await w.admin.call('POST', `/v1/keys/${created.body.key.id}/regenerate`);
    expect(res.status).toBe(200);
    expect(isWellFormedSecret(res.body.secret)).toBe(true);
    expect(res.body.secret).not.toBe(created.body.secret);
    expect(res.body.key.token_hash).toBe(sha256Hex(res.body.secret));
    expect(res.body.key.display).toBe(displaySecret(res.body.secret));
    expect((await resolve(old)).status).toBe(404);
    expect((await resolve(res.body.key.token_hash)).status).toBe(200);
    expect(changeRows(created.body.key.id).at(-1)!.token_hashes.sort()).toEqual(
      [old, res.body.key.token_hash].sort(),
    );
  });

  it('with a grace period both secrets resolve until it ends, then only the new one', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1, expires_in_days: 10 });
    const old = created.body.key.token_hash;
    const res = await w.admin.call('POST', `/v1/keys/${created.body.key.id}/regenerate`, {
      body: { grace_period_seconds: 60 },
    });
    expect(res.status).toBe(200);
    const fresh = res.body.key.token_hash;
    const graceEnd = w.admin.clock.now() + 60_000;
    const oldPolicy = await resolve(old);
    expect(oldPolicy.status).toBe(200);
    expect(oldPolicy.body).toMatchObject({ keyId: created.body.key.id, tokenHash: old, expiresAt: graceEnd });
    const newPolicy = await resolve(fresh);
    expect(newPolicy.body.expiresAt).toBe(Date.parse(created.body.key.expires_at));
    w.admin.clock.advance(59_999);
    expect((await resolve(old)).status).toBe(200);
    w.admin.clock.advance(1);
    expect((await resolve(old)).status).toBe(404);
    expect((await resolve(fresh)).status).toBe(200);
  });

  it('regenerating again during a grace period invalidates every hash it answered to', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    const h0 = created.body.key.token_hash;
    const r1 = await w.admin.call('POST', `/v1/keys/${created.body.key.id}/regenerate`, {
      body: { grace_period_seconds: 600 },
    });
    const r2 = await w.admin.call('POST', `/v1/keys/${created.body.key.id}/regenerate`, {
      body: { grace_period_seconds: 0 },
    });
    const h1 = r1.body.key.token_hash;
    const h2 = r2.body.key.token_hash;
    expect(changeRows(created.body.key.id).at(-1)!.token_hashes.sort()).toEqual([h0, h1, h2].sort());
    expect((await resolve(h0)).status).toBe(404);
    expect((await resolve(h1)).status).toBe(404);
    expect((await resolve(h2)).status).toBe(200);
  });

  it('a grace period when the key expires sooner ends with the key', async () => {
    const created = await w.createKey({
      name: 'k',
      team_id: w.teamA1,
      expires_at: new Date(w.admin.clock.now() + 30_000).toISOString(),
    });
    await w.admin.call('POST', `/v1/keys/${created.body.key.id}/regenerate`, {
      body: { grace_period_seconds: 3600 },
    });
    const old = await resolve(created.body.key.token_hash);
    expect(old.body.expiresAt).toBe(Date.parse(created.body.key.expires_at));
  });

  it('400 on a bad grace period, 409 on a revoked key, 403/404/401 by scope', async () => {
    const id = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key.id;
    for (const grace of [-1, 1.5, 31 * 86_400, 'soon']) {
      const res = await w.admin.call('POST', `/v1/keys/${id}/regenerate`, {
        body: { grace_period_seconds: grace },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe('grace_period_seconds');
    }
    expect(
      (await w.admin.call('POST', `/v1/keys/${id}/regenerate`, { token: w.tokens.auditorA })).status,
    ).toBe(403);
    expect((await w.admin.call('POST', `/v1/keys/${id}/regenerate`, { token: w.tokens.adminB })).status).toBe(
      404,
    );
    expect((await w.admin.call('POST', `/v1/keys/${id}/regenerate`, { token: null })).status).toBe(401);
    await w.admin.call('POST', `/v1/keys/${id}/revoke`);
    const revoked = await w.admin.call('POST', `/v1/keys/${id}/regenerate`);
    expect(revoked.status).toBe(409);
    expect(auditRows(id).map((r) => r.action)).toEqual(['key.create', 'key.revoke']);
  });
});

describe('secrecy', () => {
  it('no response other than create/regenerate, and no audit or change row, contains a secret', async () => {
    const created = await w.createKey({ name: 'k', team_id: w.teamA1 });
    const regenerated = await w.admin.call('POST', `/v1/keys/${created.body.key.id}/regenerate`, {
      body: { grace_period_seconds: 60 },
    });
    const secrets = [created.body.secret as string, regenerated.body.secret as string];
    const id = created.body.key.id;
    const bodies = [
      await w.admin.call('GET', `/v1/keys/${id}`),
      await w.admin.call('GET', '/v1/keys'),
      await w.admin.call('PATCH', `/v1/keys/${id}`, { body: { name: 'n' } }),
      await w.admin.call('POST', `/v1/keys/${id}/revoke`),
      await resolve(created.body.key.token_hash),
      await w.admin.call('GET', '/internal/changes?after=0', {
        token: null,
        headers: { authorization: await internal.authorizationHeader() },
      }),
    ].map((r) => JSON.stringify(r.body));
    const tables = ['audit_log', 'change_log', 'keys'].map((t) =>
      JSON.stringify(w.admin.deps.db.prepare(`SELECT * FROM ${t}`).all()),
    );
    for (const secret of secrets) {
      for (const text of [...bodies, ...tables]) expect(text).not.toContain(secret);
      expect(tables.join('')).toContain(sha256Hex(secret));
    }
  });
});
