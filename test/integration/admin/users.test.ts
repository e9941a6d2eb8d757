/**
 * Users, /v1/me and user deletion (API.md "Identity and scope"; issue 5 "deleting a user does
 * not delete service-account keys").
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createWorld, insertKey, type World } from './identity-world.js';

function rows(w: World, sql: string, ...params: unknown[]): any[] {
  return w.admin.deps.db.prepare(sql).all(...params);
}

describe('users', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld();
  });

  it('creates a user (201) with defaults and refuses a duplicate email, case-insensitively (409)', async () => {
    const created = await w.admin.call('POST', '/v1/users', {
      body: { email: 'Carol@Example.test', name: 'Carol' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: 'Carol@Example.test',
      name: 'Carol',
      platform_role: 'org_user',
    });
    expect(created.body.id).toMatch(/^usr_/);
    const dup = await w.admin.call('POST', '/v1/users', { body: { email: 'carol@example.test' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'conflict', param: 'email' });
  });

  it.each([
    [{ email: 'not-an-email' }, 'email'],
    [{}, 'email'],
    [{ email: 'x@example.test', platform_role: 'root' }, 'platform_role'],
    [{ email: 'x@example.test', name: 42 }, 'name'],
  ])('bad user input %j → 400 naming %s', async (body, param) => {
    const response = await w.admin.call('POST', '/v1/users', { body });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'invalid_request', param });
  });

  it('malformed JSON → 400, never 500', async () => {
    const response = await w.admin.call('POST', '/v1/users', { body: '{"email": ' });
    expect(response.status).toBe(400);
  });

  it('an org admin lists itself and the members of its org, never another org’s users', async () => {
    const list = await w.admin.call('GET', '/v1/users?limit=1000', { token: w.tokens.org_admin });
    expect(list.status).toBe(200);
    const ids = new Set(list.body.data.map((u: { id: string }) => u.id));
    for (const name of [
      'org_admin',
      'org_owner',
      'teammate',
      'a2member',
      'memA',
      'team_developer',
    ] as const) {
      expect(ids.has(w.users[name]), name).toBe(true);
    }
    for (const name of ['b1member', 'other_org', 'memB', 'newcomer', 'platform_admin'] as const) {
      expect(ids.has(w.users[name]), name).toBe(false);
    }
  });

  it('a developer lists only itself', async () => {
    const list = await w.admin.call('GET', '/v1/users', { token: w.tokens.team_developer });
    expect(list.body.data.map((u: { id: string }) => u.id)).toEqual([w.users.team_developer]);
  });

  it('lists page with limit and cursor without repeating or skipping anyone', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await w.admin.call(
        'GET',
        `/v1/users?limit=4${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(4);
      seen.push(...page.body.data.map((u: { id: string }) => u.id));
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.sort()).toEqual(Object.values(w.users).sort());
  });

  it('GET /v1/users/:id shows only the memberships the caller can see', async () => {
    await w.admin.call('PUT', `/v1/orgs/${w.orgs.B}/members/${w.users.teammate}`, {
      body: { role: 'org_member' },
    });
    const asAdmin = await w.admin.call('GET', `/v1/users/${w.users.teammate}`);
    expect(asAdmin.body.memberships.orgs.map((m: any) => m.org_id)).toEqual([w.orgs.B]);
    const asOrgAdmin = await w.admin.call('GET', `/v1/users/${w.users.teammate}`, {
      token: w.tokens.org_admin,
    });
    expect(asOrgAdmin.status).toBe(200);
    expect(asOrgAdmin.body.memberships.orgs).toEqual([]);
    expect(asOrgAdmin.body.memberships.teams).toEqual([
      { team_id: w.teams.A1, org_id: w.orgs.A, role: 'team_developer' },
    ]);
  });

  it('the user view says whether the user is blocked (issue 16), in every user answer and in /openapi.json', async () => {
    const id = w.users.teammate;
    const shown = async () => ({
      one: (await w.admin.call('GET', `/v1/users/${id}`)).body.blocked,
      listed: (await w.admin.call('GET', '/v1/users?limit=1000')).body.data.find(
        (u: { id: string }) => u.id === id,
      ).blocked,
      me: (await w.admin.call('GET', '/v1/me', { token: w.tokens.teammate })).body.user.blocked,
    });
    expect(await shown()).toEqual({ one: false, listed: false, me: false });
    expect((await w.admin.call('POST', `/v1/users/${id}/block`)).status).toBe(200);
    expect(await shown()).toEqual({ one: true, listed: true, me: true });
    const patched = await w.admin.call('PATCH', `/v1/users/${id}`, { body: { name: 'Still blocked' } });
    expect(patched.body).toMatchObject({ name: 'Still blocked', blocked: true });
    expect((await w.admin.call('POST', `/v1/users/${id}/unblock`)).status).toBe(200);
    expect(await shown()).toEqual({ one: false, listed: false, me: false });
    const created = await w.admin.call('POST', '/v1/users', { body: { email: 'new@example.test' } });
    expect(created.body.blocked).toBe(false);

    const spec = (await w.admin.call('GET', '/openapi.json', { token: null })).body;
    const user = spec.components.schemas.User;
    expect(user.properties.blocked).toMatchObject({ type: 'boolean' });
    expect(user.required).toContain('blocked');
    const answer = (path: string, method: string, status: string) =>
      spec.paths[path][method].responses[status].content['application/json'].schema;
    expect(answer('/v1/users', 'post', '201')).toEqual({ $ref: '#/components/schemas/User' });
    expect(answer('/v1/users/{id}', 'patch', '200')).toEqual({ $ref: '#/components/schemas/User' });
    expect(answer('/v1/users', 'get', '200').properties.data.items).toEqual({
      $ref: '#/components/schemas/User',
    });
  });

  it('a user renames itself but cannot change its email or promote itself (403)', async () => {
    const token = w.tokens.team_developer;
    const path = `/v1/users/${w.users.team_developer}`;
    const renamed = await w.admin.call('PATCH', path, { token, body: { name: 'Dev' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Dev');
    expect(
      (await w.admin.call('PATCH', path, { token, body: { platform_role: 'platform_admin' } })).status,
    ).toBe(403);
    expect((await w.admin.call('PATCH', path, { token, body: { email: 'x@example.test' } })).status).toBe(
      403,
    );
    expect((await w.admin.call('GET', '/v1/me', { token })).body.user.platform_role).toBe('org_user');
  });

  it('a platform admin promotes a user, and the new role applies to the next request', async () => {
    const token = w.tokens.newcomer;
    expect((await w.admin.call('GET', `/v1/orgs/${w.orgs.B}`, { token })).status).toBe(404);
    const promoted = await w.admin.call('PATCH', `/v1/users/${w.users.newcomer}`, {
      body: { platform_role: 'platform_admin' },
    });
    expect(promoted.status).toBe(200);
    expect((await w.admin.call('GET', `/v1/orgs/${w.orgs.B}`, { token })).status).toBe(200);
  });

  it('PATCH to an email already taken → 409 and nothing changes (no audit row either)', async () => {
    const auditBefore = rows(w, 'SELECT id FROM audit_log').length;
    const response = await w.admin.call('PATCH', `/v1/users/${w.users.memA}`, {
      body: { email: 'MEMB@example.test', name: 'changed' },
    });
    expect(response.status).toBe(409);
    expect(rows(w, 'SELECT name, email FROM users WHERE id = ?', w.users.memA)).toEqual([
      { name: 'memA', email: 'memA@example.test' },
    ]);
    expect(rows(w, 'SELECT id FROM audit_log').length).toBe(auditBefore);
  });

  it('/v1/me lists permissions per org and per team, from the current memberships', async () => {
    const me = await w.admin.call('GET', '/v1/me', { token: w.tokens.team_developer });
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(w.users.team_developer);
    expect(me.body.permissions.platform).toEqual([]);
    expect(me.body.permissions.orgs).toEqual({ [w.orgs.A]: ['org.read'] });
    expect(me.body.permissions.teams).toEqual({
      [w.teams.A1]: ['key.create_self', 'service_account.read', 'team.read'],
    });

    const owner = await w.admin.call('GET', '/v1/me', { token: w.tokens.org_owner });
    expect(owner.body.permissions.orgs[w.orgs.A]).toContain('key.create');
    expect(Object.keys(owner.body.permissions.teams).sort()).toEqual(
      [w.teams.A1, w.teams.A2, w.teams.A3].sort(),
    );

    const padmin = await w.admin.call('GET', '/v1/me', { token: w.tokens.platform_admin });
    expect(padmin.body.permissions.platform).toContain('key.delete');
    expect(padmin.body.permissions.platform).toContain('audit.read');

    // Removing the membership takes effect on the next request.
    expect(
      (await w.admin.call('DELETE', `/v1/teams/${w.teams.A1}/members/${w.users.team_developer}`)).status,
    ).toBe(204);
    const after = await w.admin.call('GET', '/v1/me', { token: w.tokens.team_developer });
    expect(after.body.permissions).toEqual({ platform: [], orgs: {}, teams: {} });
    expect(
      (await w.admin.call('GET', `/v1/teams/${w.teams.A1}`, { token: w.tokens.team_developer })).status,
    ).toBe(404);
  });

  it('minting a token is audited without the token itself', async () => {
    const minted = await w.admin.call('POST', `/v1/users/${w.users.memA}/tokens`, {
      body: {},
      headers: { 'x-request-id': 'req-mint-1' },
    });
    expect(minted.status).toBe(200);
    const lifetimeMs = Date.parse(minted.body.expires_at) - w.admin.clock.now();
    // exp is whole seconds: now rounded down to the second, plus the default hour.
    expect(lifetimeMs).toBeGreaterThan(3600_000 - 1000);
    expect(lifetimeMs).toBeLessThanOrEqual(3600_000);
    const audit = rows(w, "SELECT * FROM audit_log WHERE action = 'user.token.mint' ORDER BY id");
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      entity_id: w.users.memA,
      request_id: 'req-mint-1',
      actor_type: 'master_key',
    });
    expect(JSON.stringify(audit[0])).not.toContain(minted.body.token);
    // The body is optional (API.md `{ttl_seconds?}`).
    const noBody = await w.admin.call('POST', `/v1/users/${w.users.memA}/tokens`);
    expect(noBody.status).toBe(200);
    expect((await w.admin.call('GET', '/v1/me', { token: noBody.body.token })).body.user.id).toBe(
      w.users.memA,
    );
    const tooLong = await w.admin.call('POST', `/v1/users/${w.users.memA}/tokens`, {
      body: { ttl_seconds: 10 * 365 * 86400 },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.param).toBe('ttl_seconds');
  });

  it('deleting a user revokes the keys they own, keeps service-account keys, and drops memberships', async () => {
    const db = w.admin.deps.db;
    const teammate = w.users.teammate;
    const second = insertKey(w.admin, { teamId: w.teams.A2, ownerUserId: teammate });
    db.prepare("UPDATE keys SET previous_token_hash = 'prev-hash-1' WHERE id = ?").run(second);
    const alreadyRevoked = insertKey(w.admin, { teamId: w.teams.A1, ownerUserId: teammate });
    db.prepare("UPDATE keys SET status = 'revoked' WHERE id = ?").run(alreadyRevoked);
    const hashes = Object.fromEntries(
      rows(w, 'SELECT id, token_hash FROM keys').map((r) => [r.id, r.token_hash as string]),
    );
    const seqBefore = (db.prepare('SELECT IFNULL(MAX(seq), 0) AS s FROM change_log').get() as { s: number })
      .s;
    const pushesBefore = w.admin.notifications.count;

    const response = await w.admin.call('DELETE', `/v1/users/${teammate}`, {
      headers: { 'x-request-id': 'req-del' },
    });
    expect(response.status).toBe(204);

    const statuses = Object.fromEntries(rows(w, 'SELECT id, status FROM keys').map((r) => [r.id, r.status]));
    expect(statuses[w.keys.teammate]).toBe('revoked');
    expect(statuses[second]).toBe('revoked');
    expect(statuses[w.keys.saA1]).toBe('active');
    expect(statuses[w.keys.a2]).toBe('active');
    expect(rows(w, 'SELECT * FROM team_members WHERE user_id = ?', teammate)).toEqual([]);
    expect(rows(w, 'SELECT * FROM users WHERE id = ?', teammate)).toEqual([]);

    const changes = rows(
      w,
      'SELECT entity_type, entity_id, token_hashes FROM change_log WHERE seq > ? ORDER BY seq',
      seqBefore,
    );
    expect(changes).toEqual(
      expect.arrayContaining([
        {
          entity_type: 'key',
          entity_id: w.keys.teammate,
          token_hashes: JSON.stringify([hashes[w.keys.teammate]]),
        },
        {
          entity_type: 'key',
          entity_id: second,
          token_hashes: JSON.stringify([hashes[second], 'prev-hash-1']),
        },
      ]),
    );
    expect(changes).toHaveLength(2); // the already revoked key needs no change
    expect(w.admin.notifications.count).toBe(pushesBefore + 1);

    const audit = rows(
      w,
      "SELECT action, entity_id, request_id FROM audit_log WHERE request_id = 'req-del' ORDER BY id",
    );
    expect(audit.map((a) => a.action).sort()).toEqual(['key.revoke', 'key.revoke', 'user.delete']);

    // The service-account key is still visible and active through the API.
    const saKey = await w.admin.call('GET', `/v1/keys/${w.keys.saA1}`);
    expect(saKey.status).toBe(200);
    expect(saKey.body.status).toBe('active');
    expect(saKey.body.owner).toMatchObject({ type: 'service_account', id: w.serviceAccounts.A1WithKey });
  });

  it('deleting an unknown user → 404 and writes nothing', async () => {
    const auditBefore = rows(w, 'SELECT id FROM audit_log').length;
    expect((await w.admin.call('DELETE', '/v1/users/usr_nope')).status).toBe(404);
    expect(rows(w, 'SELECT id FROM audit_log').length).toBe(auditBefore);
  });
});
