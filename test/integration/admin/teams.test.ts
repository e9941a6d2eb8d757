/**
 * Teams: self-service policy fields (API.md), limits within the org's, access, memberships,
 * and the journal: every mutation writes its audit row and team change row in the same
 * transaction, and a failed mutation writes neither.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createWorld, insertKey, type World } from './identity-world.js';

describe('teams', () => {
  let w: World;
  const count = (sql: string, ...params: unknown[]) =>
    (w.admin.deps.db.prepare(`SELECT COUNT(*) AS n FROM ${sql}`).get(...params) as { n: number }).n;
  beforeEach(async () => {
    w = await createWorld();
  });

  it('a new team has self-service enabled by default and no other policy bound', async () => {
    const created = await w.admin.call('POST', '/v1/teams', { body: { org_id: w.orgs.A, name: 'fresh' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      org_id: w.orgs.A,
      name: 'fresh',
      max_budget: null,
      spend: 0,
      rpm_limit: null,
      self_service: {
        enabled: true,
        max_keys_per_user: null,
        budget_ceiling: null,
        require_expiry: false,
        max_expiry_days: null,
      },
      access: { mode: 'inherit', targets: [], access_groups: [] },
    });
    expect((await w.admin.call('GET', `/v1/teams/${created.body.id}`)).body).toEqual(created.body);
  });

  it('stores every self-service policy field and PATCH merges a partial policy', async () => {
    const policy = {
      enabled: false,
      max_keys_per_user: 3,
      budget_ceiling: 12.5,
      require_expiry: true,
      max_expiry_days: 30,
    };
    const created = await w.admin.call('POST', '/v1/teams', {
      body: { org_id: w.orgs.A, name: 'strict', self_service: policy },
    });
    expect(created.body.self_service).toEqual(policy);
    expect(
      w.admin.deps.db
        .prepare('SELECT ss_budget_ceiling_micros AS c FROM teams WHERE id = ?')
        .get(created.body.id),
    ).toEqual({ c: 12_500_000 });
    const patched = await w.admin.call('PATCH', `/v1/teams/${created.body.id}`, {
      token: w.tokens.org_admin,
      body: { self_service: { enabled: true, budget_ceiling: null } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.self_service).toEqual({ ...policy, enabled: true, budget_ceiling: null });
  });

  it('a team admin edits its team’s name and self-service policy; a developer cannot (403)', async () => {
    const path = `/v1/teams/${w.teams.A1}`;
    const body = { name: 'a1-renamed', self_service: { max_keys_per_user: 2 } };
    expect((await w.admin.call('PATCH', path, { token: w.tokens.team_developer, body })).status).toBe(403);
    const patched = await w.admin.call('PATCH', path, { token: w.tokens.team_admin, body });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'a1-renamed',
      self_service: { max_keys_per_user: 2, enabled: true },
    });
  });

  it.each([
    ['max_budget', 50],
    ['max_budget', null],
    ['budget_period', 'month'],
    ['soft_budget', 5],
    ['rpm_limit', 50],
    ['tpm_limit', 50],
    ['rph_limit', 50],
    ['rpd_limit', 50],
    ['tpd_limit', 50],
    ['max_parallel_requests', 4],
    ['rpm_limit', { value: 50, mode: 'shadow' }],
    ['access', { mode: 'inherit' }],
  ])(
    'a team admin cannot change the team’s caps: %s %j → 403 forbidden naming it, nothing written',
    async (field, value) => {
      const audits = count('audit_log');
      const changes = count('change_log');
      const response = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, {
        token: w.tokens.team_admin,
        body: { name: 'a1-renamed', [field]: value },
      });
      expect(response.status).toBe(403);
      expect(response.body.error).toMatchObject({ code: 'forbidden', param: field });
      expect((await w.admin.call('GET', `/v1/teams/${w.teams.A1}`)).body.name).toBe('a1');
      expect(count('audit_log')).toBe(audits);
      expect(count('change_log')).toBe(changes);
    },
  );

  it('the refusal names the first cap field in the team fields’ order (max_budget first, access last)', async () => {
    const response = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, {
      token: w.tokens.team_admin,
      body: { access: { mode: 'inherit' }, soft_budget: 1, rpm_limit: 5, max_budget: 1 },
    });
    expect(response.status).toBe(403);
    expect(response.body.error.param).toBe('max_budget');
  });

  it('org owners/admins set the budget and limits a team admin cannot lift', async () => {
    const path = `/v1/teams/${w.teams.A1}`;
    for (const token of [w.tokens.org_owner, w.tokens.org_admin]) {
      const set = await w.admin.call('PATCH', path, {
        token,
        body: { max_budget: 20, rpm_limit: 10, max_parallel_requests: 2, access: { mode: 'inherit' } },
      });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ max_budget: 20, rpm_limit: 10, max_parallel_requests: 2 });
    }
    const lift = await w.admin.call('PATCH', path, {
      token: w.tokens.team_admin,
      body: { max_budget: null },
    });
    expect(lift.status).toBe(403);
    expect((await w.admin.call('GET', path)).body).toMatchObject({ max_budget: 20, rpm_limit: 10 });
  });

  it('a self-service budget ceiling above the team budget → 400 naming self_service.budget_ceiling', async () => {
    const path = `/v1/teams/${w.teams.A1}`;
    await w.admin.call('PATCH', path, { token: w.tokens.org_admin, body: { max_budget: 20 } });
    const over = await w.admin.call('PATCH', path, {
      token: w.tokens.team_admin,
      body: { self_service: { budget_ceiling: 20.01 } },
    });
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'invalid_request', param: 'self_service.budget_ceiling' });
    expect((await w.admin.call('GET', path)).body.self_service.budget_ceiling).toBeNull();
    const equal = await w.admin.call('PATCH', path, {
      token: w.tokens.team_admin,
      body: { self_service: { budget_ceiling: 20 } },
    });
    expect(equal.status).toBe(200);
    // Compared with the budget the request leaves on the team, on create too.
    const raised = await w.admin.call('PATCH', path, {
      token: w.tokens.org_admin,
      body: { max_budget: 30, self_service: { budget_ceiling: 25 } },
    });
    expect(raised.status).toBe(200);
    const created = await w.admin.call('POST', '/v1/teams', {
      body: { org_id: w.orgs.A, name: 'capped', max_budget: 10, self_service: { budget_ceiling: 11 } },
    });
    expect(created.status).toBe(400);
    expect(created.body.error.param).toBe('self_service.budget_ceiling');
    // Without a team budget the ceiling is unbounded above.
    const unbounded = await w.admin.call('PATCH', `/v1/teams/${w.teams.A2}`, {
      body: { self_service: { budget_ceiling: 1_000 } },
    });
    expect(unbounded.status).toBe(200);
  });

  it.each([
    [{ self_service: { max_keys_per_user: 0 } }, 'self_service.max_keys_per_user'],
    [{ self_service: { budget_ceiling: -1 } }, 'self_service.budget_ceiling'],
    [{ self_service: { enabled: 'yes' } }, 'self_service.enabled'],
    [{ self_service: { max_expiry_days: 1.5 } }, 'self_service.max_expiry_days'],
    [{ rpm_limit: 0 }, 'rpm_limit'],
    [{ name: '' }, 'name'],
    [{ access: { mode: 'all' } }, 'access'],
  ])('bad team input %j → 400 naming %s', async (body, param) => {
    const response = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, { body });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_request');
    expect(response.body.error.param).toContain(param);
  });

  it('team limits must fit within the org’s limits (400 naming the field)', async () => {
    await w.admin.call('PATCH', `/v1/orgs/${w.orgs.A}`, { body: { max_budget: 100, tpm_limit: 10_000 } });
    const over = await w.admin.call('POST', '/v1/teams', {
      body: { org_id: w.orgs.A, name: 'big', max_budget: 100.01 },
    });
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'invalid_request', param: 'max_budget' });
    expect(over.body.error.message).toContain("org's max_budget (100)");
    const tpm = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, { body: { tpm_limit: 10_001 } });
    expect(tpm.body.error).toMatchObject({ code: 'invalid_request', param: 'tpm_limit' });
    // Equal is fine; a limit the org does not set is unbounded above.
    const fits = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, {
      body: { max_budget: 100, tpm_limit: 10_000, rpm_limit: 1_000_000 },
    });
    expect(fits.status).toBe(200);
  });

  it('duplicate team names clash within an org (409) but not across orgs', async () => {
    const dup = await w.admin.call('POST', '/v1/teams', { body: { org_id: w.orgs.A, name: 'a2' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.param).toBe('name');
    expect((await w.admin.call('POST', '/v1/teams', { body: { org_id: w.orgs.B, name: 'a2' } })).status).toBe(
      201,
    );
    const rename = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, { body: { name: 'a2' } });
    expect(rename.status).toBe(409);
  });

  it('creating a team in an unknown or invisible org → 404 naming org_id', async () => {
    for (const [orgId, token] of [
      ['org_nope', undefined],
      [w.orgs.B, w.tokens.org_owner],
    ] as const) {
      const response = await w.admin.call('POST', '/v1/teams', { token, body: { org_id: orgId, name: 'x' } });
      expect(response.status).toBe(404);
      expect(response.body.error.param).toBe('org_id');
    }
  });

  it('an update writes one audit row (before/after, actor, request id) and one team change row', async () => {
    const seqBefore = count('change_log');
    const response = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, {
      token: w.tokens.org_admin,
      body: { rpm_limit: 7 },
      headers: { 'x-request-id': 'req-team-1' },
    });
    expect(response.status).toBe(200);
    const audit = w.admin.deps.db
      .prepare("SELECT * FROM audit_log WHERE request_id = 'req-team-1'")
      .all() as any[];
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'team.update',
      actor_type: 'user',
      actor_id: w.users.org_admin,
      via: 'admin',
      entity_type: 'team',
      entity_id: w.teams.A1,
      org_id: w.orgs.A,
      team_id: w.teams.A1,
    });
    expect(JSON.parse(audit[0].before).rpm_limit).toBeNull();
    expect(JSON.parse(audit[0].after).rpm_limit).toBe(7);
    expect(count('change_log')).toBe(seqBefore + 1);
    expect(
      w.admin.deps.db
        .prepare('SELECT entity_type, entity_id FROM change_log ORDER BY seq DESC LIMIT 1')
        .get(),
    ).toEqual({
      entity_type: 'team',
      entity_id: w.teams.A1,
    });
  });

  it('a failed update leaves no trace: no change, no audit row, no change-log row, no push', async () => {
    const audits = count('audit_log');
    const changes = count('change_log');
    const pushes = w.admin.notifications.count;
    // The rename and the limit are valid; the access selection names an unknown target, which
    // fails inside the transaction after the UPDATE ran.
    const response = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, {
      body: { name: 'renamed', rpm_limit: 5, access: { mode: 'restrict', targets: ['no-such-target'] } },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.param).toMatch(/^access/);
    const team = await w.admin.call('GET', `/v1/teams/${w.teams.A1}`);
    expect(team.body).toMatchObject({ name: 'a1', rpm_limit: null, access: { mode: 'inherit' } });
    expect(count('audit_log')).toBe(audits);
    expect(count('change_log')).toBe(changes);
    expect(w.admin.notifications.count).toBe(pushes);
  });

  it('restricts a team to a target its org allows', async () => {
    const response = await w.admin.call('PATCH', `/v1/teams/${w.teams.A1}`, {
      body: { access: { mode: 'restrict', targets: ['shared-model'], access_groups: [] } },
    });
    expect(response.status).toBe(200);
    expect(response.body.access).toEqual({ mode: 'restrict', targets: ['shared-model'], access_groups: [] });
  });

  it('lists only the teams the caller can read, optionally of one org', async () => {
    const ids = async (token: string | undefined, query = '') =>
      ((await w.admin.call('GET', `/v1/teams${query}`, { token })).body.data as { id: string }[])
        .map((t) => t.id)
        .sort();
    expect(await ids(undefined)).toEqual(Object.values(w.teams).sort());
    expect(await ids(undefined, `?org_id=${w.orgs.B}`)).toEqual([w.teams.B1]);
    expect(await ids(w.tokens.org_auditor)).toEqual([w.teams.A1, w.teams.A2, w.teams.A3].sort());
    expect(await ids(w.tokens.team_developer)).toEqual([w.teams.A1]);
    expect(await ids(w.tokens.org_member)).toEqual([]);
    expect(await ids(w.tokens.other_org, `?org_id=${w.orgs.A}`)).toEqual([]);
  });

  it('memberships: put sets/changes a role, delete removes it; unknown user 404, bad role 400', async () => {
    const path = `/v1/teams/${w.teams.A1}/members/${w.users.newcomer}`;
    // The newcomer is in no org yet: only a platform admin adds them (issue 10 item 12).
    const put = await w.admin.call('PUT', path, { body: { role: 'team_developer' } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({
      team_id: w.teams.A1,
      org_id: w.orgs.A,
      user_id: w.users.newcomer,
      role: 'team_developer',
    });
    expect((await w.admin.call('GET', `/v1/teams/${w.teams.A1}`, { token: w.tokens.newcomer })).status).toBe(
      200,
    );
    const changed = await w.admin.call('PUT', path, { body: { role: 'team_viewer' } });
    expect(changed.body.role).toBe('team_viewer');
    expect(count('team_members WHERE user_id = ?', w.users.newcomer)).toBe(1);
    const bad = await w.admin.call('PUT', path, { body: { role: 'org_owner' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('role');
    const ghost = await w.admin.call('PUT', `/v1/teams/${w.teams.A1}/members/usr_ghost`, {
      body: { role: 'team_viewer' },
    });
    expect(ghost.status).toBe(404);
    expect(ghost.body.error.param).toBe('user_id');
    expect((await w.admin.call('DELETE', path)).status).toBe(204);
    expect((await w.admin.call('DELETE', path)).status).toBe(404);
    expect((await w.admin.call('GET', `/v1/teams/${w.teams.A1}`, { token: w.tokens.newcomer })).status).toBe(
      404,
    );
  });

  it('a team with keys cannot be deleted (409); an empty one goes with its service accounts', async () => {
    const blocked = await w.admin.call('DELETE', `/v1/teams/${w.teams.A1}`);
    expect(blocked.status).toBe(409);
    const sa = await w.admin.call('POST', `/v1/teams/${w.teams.A3}/service-accounts`, {
      body: { name: 'bot' },
    });
    await w.admin.call('PUT', `/v1/teams/${w.teams.A3}/members/${w.users.newcomer}`, {
      body: { role: 'team_viewer' },
    });
    await w.admin.call('PATCH', `/v1/teams/${w.teams.A3}`, {
      body: { access: { mode: 'restrict', targets: ['shared-model'] } },
    });
    const deleted = await w.admin.call('DELETE', `/v1/teams/${w.teams.A3}`, { token: w.tokens.org_owner });
    expect(deleted.status).toBe(204);
    expect(count('service_accounts WHERE id = ?', sa.body.id)).toBe(0);
    expect(count('team_members WHERE team_id = ?', w.teams.A3)).toBe(0);
    expect(count("access_bindings WHERE scope_type = 'team' AND scope_id = ?", w.teams.A3)).toBe(0);
    expect((await w.admin.call('GET', `/v1/teams/${w.teams.A3}`)).status).toBe(404);
    expect(
      w.admin.deps.db
        .prepare('SELECT entity_type, entity_id FROM change_log ORDER BY seq DESC LIMIT 1')
        .get(),
    ).toEqual({ entity_type: 'team', entity_id: w.teams.A3 });
  });

  it('a revoked key still blocks deleting its team (its spend history stays)', async () => {
    const key = insertKey(w.admin, { teamId: w.teams.A3, ownerUserId: w.users.newcomer });
    w.admin.deps.db.prepare("UPDATE keys SET status = 'revoked' WHERE id = ?").run(key);
    expect((await w.admin.call('DELETE', `/v1/teams/${w.teams.A3}`)).status).toBe(409);
  });
});
