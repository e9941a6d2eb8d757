/**
 * Self-service keys (issue 5): a caller whose only key permission on the team is
 * `key.create_self` gets the owner forced to itself and the team's policy enforced, one test per
 * row of the constraint table; sees and manages only their own keys.
 */
import { describe, expect, it } from 'vitest';
import { WINDOW_FIELDS } from '../../../src/policy/limits.js';
import { countRows } from './keys-fixtures.js';
import { keysWorld } from './keys-world.js';
import type { TeamSeed } from './keys-fixtures.js';
import { DAY_MS } from '../../../src/ratelimit/windows.js';

async function world(policy: TeamSeed = {}) {
  return keysWorld(policy);
}

function nothingWritten(w: Awaited<ReturnType<typeof world>>) {
  expect(countRows(w.admin.deps.db, 'keys')).toBe(0);
  expect(countRows(w.admin.deps.db, 'audit_log')).toBe(0);
  expect(countRows(w.admin.deps.db, 'change_log')).toBe(0);
}

describe('self-service creation', () => {
  it('forces the owner to the caller whatever the body says, and audits it as self_service', async () => {
    const w = await world();
    const res = await w.createKey(
      { name: 'mine', team_id: w.teamA1, owner: { type: 'service_account', id: w.saA1 } },
      w.tokens.devA1,
    );
    expect(res.status).toBe(201);
    expect(res.body.key.owner).toEqual({ type: 'user', id: w.users.devA1, name: 'Dev One' });
    expect(res.body.key.self_service).toBe(true);
    expect(res.body.key.created_by).toBe(w.users.devA1);
    const audit = w.admin.deps.db
      .prepare('SELECT * FROM audit_log WHERE entity_id = ?')
      .get(res.body.key.id) as any;
    expect(audit).toMatchObject({
      action: 'key.create',
      via: 'self_service',
      actor_type: 'user',
      actor_id: w.users.devA1,
    });
    const created = await w.createKey(
      { name: 'sa', team_id: w.teamA1, owner: { type: 'service_account', create: { name: 'sneaky' } } },
      w.tokens.devA1,
    );
    expect(created.body.key.owner.type).toBe('user');
    expect(countRows(w.admin.deps.db, 'service_accounts')).toBe(1);
  });

  it('self-service disabled on the team → 403 self_service_disabled, nothing written', async () => {
    const w = await world({ ss_enabled: 0 });
    const res = await w.createKey({ name: 'k', team_id: w.teamA1 }, w.tokens.devA1);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('self_service_disabled');
    nothingWritten(w);
  });

  it('the policy binds self-service only: a team admin creates keys beyond it', async () => {
    const w = await world({ ss_enabled: 0, ss_budget_ceiling_micros: 1_000_000, ss_require_expiry: 1 });
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, rpm_limit: 1_000_000 },
      w.tokens.teamAdminA1,
    );
    expect(res.status).toBe(201);
    expect(res.body.key.self_service).toBe(false);
  });

  it('active own keys ≥ max_keys_per_user → 403 max_keys_per_user_reached; revoked and expired keys do not count', async () => {
    const w = await world({ ss_max_keys_per_user: 2 });
    const first = await w.createKey({ name: 'k1', team_id: w.teamA1, expires_in_days: 1 }, w.tokens.devA1);
    const second = await w.createKey({ name: 'k2', team_id: w.teamA1 }, w.tokens.devA1);
    expect([first.status, second.status]).toEqual([201, 201]);
    // Another user's keys and admin-owned keys are not the caller's.
    expect((await w.createKey({ name: 'o', team_id: w.teamA1 }, w.tokens.dev2A1)).status).toBe(201);
    const audit = countRows(w.admin.deps.db, 'audit_log');
    const third = await w.createKey({ name: 'k3', team_id: w.teamA1 }, w.tokens.devA1);
    expect(third.status).toBe(403);
    expect(third.body.error.code).toBe('max_keys_per_user_reached');
    expect(countRows(w.admin.deps.db, 'audit_log')).toBe(audit);
    await w.admin.call('POST', `/v1/keys/${second.body.key.id}/revoke`, { token: w.tokens.devA1 });
    expect((await w.createKey({ name: 'k3', team_id: w.teamA1 }, w.tokens.devA1)).status).toBe(201);
    expect((await w.createKey({ name: 'k4', team_id: w.teamA1 }, w.tokens.devA1)).status).toBe(403);
    w.admin.clock.advance(DAY_MS + 1);
    expect((await w.createKey({ name: 'k4', team_id: w.teamA1 }, w.tokens.devA1)).status).toBe(201);
  });

  it('budget missing while the team has a ceiling, or above it → 400 budget_exceeds_team_ceiling (max_budget)', async () => {
    const w = await world({ ss_budget_ceiling_micros: 5_000_000 });
    for (const body of [{}, { max_budget: null }, { max_budget: 5.000001 }, { max_budget: 100 }]) {
      const res = await w.createKey({ name: 'k', team_id: w.teamA1, ...body }, w.tokens.devA1);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'budget_exceeds_team_ceiling', param: 'max_budget' });
    }
    nothingWritten(w);
    const ok = await w.createKey({ name: 'k', team_id: w.teamA1, max_budget: 5 }, w.tokens.devA1);
    expect(ok.status).toBe(201);
    expect(ok.body.key.max_budget).toBe(5);
  });

  it('expiry missing when the team requires one → 400 expiry_required (expires_at)', async () => {
    const w = await world({ ss_require_expiry: 1 });
    const res = await w.createKey({ name: 'k', team_id: w.teamA1 }, w.tokens.devA1);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'expiry_required', param: 'expires_at' });
    nothingWritten(w);
    expect(
      (await w.createKey({ name: 'k', team_id: w.teamA1, expires_in_days: 3 }, w.tokens.devA1)).status,
    ).toBe(201);
  });

  it('expiry beyond max_expiry_days (or none while a maximum is set) → 400 expiry_exceeds_team_max', async () => {
    const w = await world({ ss_max_expiry_days: 30 });
    const now = w.admin.clock.now();
    const cases: [Record<string, unknown>, string][] = [
      [{ expires_in_days: 31 }, 'expires_in_days'],
      [{ expires_at: new Date(now + 30 * DAY_MS + 1000).toISOString() }, 'expires_at'],
      [{}, 'expires_at'],
    ];
    for (const [body, param] of cases) {
      const res = await w.createKey({ name: 'k', team_id: w.teamA1, ...body }, w.tokens.devA1);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'expiry_exceeds_team_max', param });
    }
    nothingWritten(w);
    expect(
      (await w.createKey({ name: 'k', team_id: w.teamA1, expires_in_days: 30 }, w.tokens.devA1)).status,
    ).toBe(201);
  });

  it.each(WINDOW_FIELDS)(
    '%s above the team limit → 400 limit_exceeds_team_limit naming the field',
    async (field) => {
      const w = await world({ [field]: 100 });
      const res = await w.createKey({ name: 'k', team_id: w.teamA1, [field]: 101 }, w.tokens.devA1);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'limit_exceeds_team_limit', param: field });
      nothingWritten(w);
      const ok = await w.createKey({ name: 'k', team_id: w.teamA1, [field]: 100 }, w.tokens.devA1);
      expect(ok.status).toBe(201);
      expect(ok.body.key[field]).toBe(100);
    },
  );

  it('max_parallel_requests above the team cap → 400 limit_exceeds_team_limit naming it', async () => {
    const w = await world({ max_parallel_requests: 4 });
    const over = { name: 'k', team_id: w.teamA1, max_parallel_requests: 5 };
    const res = await w.createKey(over, w.tokens.devA1);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'limit_exceeds_team_limit',
      param: 'max_parallel_requests',
    });
    nothingWritten(w);
    const shadow = await w.createKey(
      { ...over, max_parallel_requests: { value: 5, mode: 'shadow' } },
      w.tokens.devA1,
    );
    expect(shadow.body.error).toMatchObject({
      code: 'limit_exceeds_team_limit',
      param: 'max_parallel_requests',
    });
    const ok = await w.createKey({ ...over, max_parallel_requests: 4 }, w.tokens.devA1);
    expect(ok.status).toBe(201);
    expect(ok.body.key.max_parallel_requests).toBe(4);
    // The policy binds self-service only: a team admin sets any cap.
    expect((await w.createKey(over, w.tokens.teamAdminA1)).status).toBe(201);
  });

  it('narrowing access is refused (403, param access); inherit is fine', async () => {
    const w = await world();
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, access: { mode: 'restrict', targets: ['gpt-4o-mini'] } },
      w.tokens.devA1,
    );
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', param: 'access' });
    nothingWritten(w);
    const ok = await w.createKey(
      { name: 'k', team_id: w.teamA1, access: { mode: 'inherit' } },
      w.tokens.devA1,
    );
    expect(ok.status).toBe(201);
    expect(ok.body.key.effective_targets).toEqual(['claude-haiku', 'gpt-4o-mini']);
  });

  it('checks run in the documented order: the first failing row is reported', async () => {
    const w = await world({
      ss_max_keys_per_user: 1,
      ss_budget_ceiling_micros: 1_000_000,
      ss_require_expiry: 1,
      rpm_limit: 10,
    });
    const all = { name: 'k', team_id: w.teamA1, rpm_limit: 11 };
    expect((await w.createKey(all, w.tokens.devA1)).body.error.code).toBe('budget_exceeds_team_ceiling');
    expect((await w.createKey({ ...all, max_budget: 1 }, w.tokens.devA1)).body.error.code).toBe(
      'expiry_required',
    );
    expect(
      (await w.createKey({ ...all, max_budget: 1, expires_in_days: 1 }, w.tokens.devA1)).body.error.code,
    ).toBe('limit_exceeds_team_limit');
    expect(
      (await w.createKey({ ...all, max_budget: 1, expires_in_days: 1, rpm_limit: 10 }, w.tokens.devA1))
        .status,
    ).toBe(201);
    expect((await w.createKey(all, w.tokens.devA1)).body.error.code).toBe('max_keys_per_user_reached');
  });
});

describe('self-service management of own keys', () => {
  async function twoDevelopers() {
    const w = await world();
    const mine = (await w.createKey({ name: 'mine', team_id: w.teamA1 }, w.tokens.devA1)).body;
    const theirs = (await w.createKey({ name: 'theirs', team_id: w.teamA1 }, w.tokens.dev2A1)).body;
    const admins = (await w.createKey({ name: 'admin', team_id: w.teamA1 }, w.tokens.teamAdminA1)).body;
    return { w, mine, theirs, admins };
  }

  it("another user's key (or an admin's) answers 404 on every route", async () => {
    const { w, theirs, admins } = await twoDevelopers();
    for (const id of [theirs.key.id, admins.key.id]) {
      const calls: [string, string, unknown?][] = [
        ['GET', `/v1/keys/${id}`],
        ['PATCH', `/v1/keys/${id}`, { name: 'x' }],
        ['POST', `/v1/keys/${id}/regenerate`],
        ['POST', `/v1/keys/${id}/revoke`],
        ['DELETE', `/v1/keys/${id}`],
      ];
      for (const [method, path, body] of calls) {
        const res = await w.admin.call(
          method,
          path,
          body === undefined ? { token: w.tokens.devA1 } : { token: w.tokens.devA1, body },
        );
        expect([method, path, res.status]).toEqual([method, path, 404]);
      }
    }
    expect((await w.admin.call('GET', `/v1/keys/${theirs.key.id}`)).body.status).toBe('active');
  });

  it('the owner regenerates, revokes and deletes their own key, audited as self_service; PATCH is 403', async () => {
    const { w, mine } = await twoDevelopers();
    const id = mine.key.id;
    const token = w.tokens.devA1;
    expect((await w.admin.call('GET', `/v1/keys/${id}`, { token })).status).toBe(200);
    expect(
      (await w.admin.call('PATCH', `/v1/keys/${id}`, { token, body: { rpm_limit: 1_000_000 } })).status,
    ).toBe(403);
    const regenerated = await w.admin.call('POST', `/v1/keys/${id}/regenerate`, {
      token,
      body: { grace_period_seconds: 30 },
    });
    expect(regenerated.status).toBe(200);
    expect(regenerated.body.secret).toMatch(/^kg_/);
    expect((await w.admin.call('POST', `/v1/keys/${id}/revoke`, { token })).body.status).toBe('revoked');
    expect((await w.admin.call('DELETE', `/v1/keys/${id}`, { token })).status).toBe(204);
    const audit = w.admin.deps.db
      .prepare('SELECT action, via, actor_id FROM audit_log WHERE entity_id = ? ORDER BY id')
      .all(id);
    expect(audit).toEqual([
      { action: 'key.create', via: 'self_service', actor_id: w.users.devA1 },
      { action: 'key.regenerate', via: 'self_service', actor_id: w.users.devA1 },
      { action: 'key.revoke', via: 'self_service', actor_id: w.users.devA1 },
      { action: 'key.delete', via: 'self_service', actor_id: w.users.devA1 },
    ]);
  });

  it('a team admin acting on a self-service key is audited as admin', async () => {
    const { w, mine } = await twoDevelopers();
    await w.admin.call('POST', `/v1/keys/${mine.key.id}/revoke`, { token: w.tokens.teamAdminA1 });
    const row = w.admin.deps.db
      .prepare("SELECT via FROM audit_log WHERE entity_id = ? AND action = 'key.revoke'")
      .get(mine.key.id);
    expect(row).toEqual({ via: 'admin' });
  });

  it('removing the membership hides the own key on the next request', async () => {
    const { w, mine } = await twoDevelopers();
    expect((await w.admin.call('GET', `/v1/keys/${mine.key.id}`, { token: w.tokens.devA1 })).status).toBe(
      200,
    );
    w.admin.deps.db.prepare('DELETE FROM team_members WHERE user_id = ?').run(w.users.devA1);
    expect((await w.admin.call('GET', `/v1/keys/${mine.key.id}`, { token: w.tokens.devA1 })).status).toBe(
      404,
    );
    expect((await w.admin.call('GET', '/v1/keys', { token: w.tokens.devA1 })).body.data).toEqual([]);
  });
});
