/**
 * Service accounts: non-login key owners of one team. Creating/listing/deleting them, and the
 * rule that one still owning keys cannot be deleted (409) — its keys keep their owner.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createWorld, insertKey, type World } from './identity-world.js';

describe('service accounts', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld();
  });

  it('a team admin creates one (201, audited) and the team lists it with its key counts', async () => {
    const created = await w.admin.call('POST', `/v1/teams/${w.teams.A1}/service-accounts`, {
      token: w.tokens.team_admin,
      body: { name: 'nightly-job', description: 'batch evals' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      team_id: w.teams.A1,
      org_id: w.orgs.A,
      name: 'nightly-job',
      description: 'batch evals',
      key_count: 0,
      active_key_count: 0,
      created_by: w.users.team_admin,
    });
    expect(created.body.id).toMatch(/^sa_/);
    const audit = w.admin.deps.db
      .prepare(
        "SELECT actor_id, team_id FROM audit_log WHERE action = 'service_account.create' AND entity_id = ?",
      )
      .all(created.body.id);
    expect(audit).toEqual([{ actor_id: w.users.team_admin, team_id: w.teams.A1 }]);

    const list = await w.admin.call('GET', `/v1/teams/${w.teams.A1}/service-accounts`, {
      token: w.tokens.team_developer,
    });
    expect(list.status).toBe(200);
    const byName = Object.fromEntries(list.body.data.map((sa: any) => [sa.name, sa]));
    expect(Object.keys(byName).sort()).toEqual(['nightly-job', 'sa-a1', 'sa-a1-keyed']);
    expect(byName['sa-a1-keyed']).toMatchObject({ key_count: 1, active_key_count: 1 });
  });

  it('a duplicate name in the same team → 409; the same name in another team is fine', async () => {
    const dup = await w.admin.call('POST', `/v1/teams/${w.teams.A1}/service-accounts`, {
      body: { name: 'sa-a1' },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error.param).toBe('name');
    const other = await w.admin.call('POST', `/v1/teams/${w.teams.A2}/service-accounts`, {
      body: { name: 'sa-a1' },
    });
    expect(other.status).toBe(201);
  });

  it('bad input → 400 naming the field', async () => {
    const response = await w.admin.call('POST', `/v1/teams/${w.teams.A1}/service-accounts`, {
      body: { name: '  ' },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.param).toBe('name');
  });

  it('one owning an active key cannot be deleted (409 naming the key); nothing is written', async () => {
    const audits = w.admin.deps.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get();
    const response = await w.admin.call('DELETE', `/v1/service-accounts/${w.serviceAccounts.A1WithKey}`);
    expect(response.status).toBe(409);
    expect(response.body.error.message).toContain(w.keys.saA1);
    expect(w.admin.deps.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get()).toEqual(audits);
    expect((await w.admin.call('GET', `/v1/keys/${w.keys.saA1}`)).body.status).toBe('active');
  });

  it('one owning only revoked keys still cannot be deleted (their history keeps its owner)', async () => {
    w.admin.deps.db.prepare("UPDATE keys SET status = 'revoked' WHERE id = ?").run(w.keys.saA1);
    const response = await w.admin.call('DELETE', `/v1/service-accounts/${w.serviceAccounts.A1WithKey}`);
    expect(response.status).toBe(409);
    expect(response.body.error.message).toContain('revoked');
  });

  it('one without keys is deleted (204, audited) and disappears from the list', async () => {
    const key = insertKey(w.admin, { teamId: w.teams.A1, ownerServiceAccountId: w.serviceAccounts.A1 });
    w.admin.deps.db.prepare('DELETE FROM keys WHERE id = ?').run(key);
    const response = await w.admin.call('DELETE', `/v1/service-accounts/${w.serviceAccounts.A1}`, {
      token: w.tokens.org_admin,
    });
    expect(response.status).toBe(204);
    const list = await w.admin.call('GET', `/v1/teams/${w.teams.A1}/service-accounts`);
    expect(list.body.data.map((sa: any) => sa.id)).not.toContain(w.serviceAccounts.A1);
    expect(
      w.admin.deps.db
        .prepare(
          "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'service_account.delete' AND entity_id = ?",
        )
        .get(w.serviceAccounts.A1),
    ).toEqual({ n: 1 });
    expect((await w.admin.call('DELETE', `/v1/service-accounts/${w.serviceAccounts.A1}`)).status).toBe(404);
  });

  it('service accounts are not users: not listed among users, cannot be given a membership', async () => {
    const users = await w.admin.call('GET', '/v1/users?limit=1000');
    expect(users.body.data.map((u: any) => u.id)).not.toContain(w.serviceAccounts.A1);
    const member = await w.admin.call('PUT', `/v1/teams/${w.teams.A1}/members/${w.serviceAccounts.A1}`, {
      body: { role: 'team_admin' },
    });
    expect(member.status).toBe(404);
    expect(member.body.error.param).toBe('user_id');
  });
});
