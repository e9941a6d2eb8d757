/**
 * A small populated admin plane for identity/scope tests: two orgs, teams, one user per role,
 * keys, service accounts, targets and access groups, plus a JWT per user.
 *
 *   org A ─ team A1 (team_admin, team_developer, team_viewer, teammate), team A2 (a2member),
 *           team A3 (empty: no keys, no members)
 *         ─ org roles: org_owner, org_admin, org_auditor, org_member, memA (plain org_member)
 *   org B ─ team B1 (b1member); other_org is org_owner of B; memB is a plain org_member
 *   org C ─ empty (no teams, no members)
 *
 * Orgs, teams, users, memberships and service accounts go through the API (master key); keys,
 * targets and access groups are inserted directly so this world does not depend on the routes
 * under test elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { createTestAdmin, TEST_MASTER_KEY, type TestAdmin } from '../../helpers/admin-harness.js';

export const ROLE_CALLERS = [
  'platform_admin',
  'org_owner',
  'org_admin',
  'org_auditor',
  'org_member',
  'team_admin',
  'team_developer',
  'team_viewer',
  'other_org',
] as const;
export type RoleCaller = (typeof ROLE_CALLERS)[number];
export const CALLERS = [...ROLE_CALLERS, 'no_token', 'expired', 'master'] as const;
export type Caller = (typeof CALLERS)[number];

export const EXTRA_USERS = ['teammate', 'a2member', 'b1member', 'memA', 'memB', 'newcomer'] as const;
type UserName = RoleCaller | (typeof EXTRA_USERS)[number];

export interface World {
  admin: TestAdmin;
  orgs: { A: string; B: string; C: string };
  teams: { A1: string; A2: string; A3: string; B1: string };
  users: Record<UserName, string>;
  tokens: Record<UserName, string>;
  expiredToken: string;
  /** Key id owned by each role caller (in A1; other_org's in B1, platform_admin's in A1). */
  ownKeys: Record<RoleCaller, string>;
  keys: { teammate: string; a2: string; b1: string; saA1: string };
  serviceAccounts: { A1: string; A2: string; B1: string; A1WithKey: string };
  targets: { shared: string };
  groups: { global: string; A: string; B: string };
  /** Authorization header value for a caller, or null for no_token. */
  token(caller: Caller): string | null;
  /** Runs `fn` in a transaction rolled back afterwards: each fuzz or matrix case meets this same world. */
  rolledBack<T>(fn: () => Promise<T>): Promise<T>;
}

export async function ok(
  admin: TestAdmin,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = TEST_MASTER_KEY,
): Promise<any> {
  const response = await admin.call(method, path, { body, token });
  expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
  return response.body;
}

export function insertKey(
  admin: TestAdmin,
  options: { teamId: string; ownerUserId?: string; ownerServiceAccountId?: string; name?: string },
): string {
  const id = `key_${randomBytes(12).toString('hex')}`;
  const now = admin.clock.now();
  admin.deps.db
    .prepare(
      `INSERT INTO keys (id, name, team_id, owner_type, owner_user_id, owner_service_account_id, token_hash, display, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      id,
      options.name ?? id,
      options.teamId,
      options.ownerServiceAccountId === undefined ? 'user' : 'service_account',
      options.ownerUserId ?? null,
      options.ownerServiceAccountId ?? null,
      randomBytes(32).toString('hex'),
      'kg_AbCd…wXyZ',
      now,
      now,
    );
  return id;
}

export async function createWorld(): Promise<World> {
  const admin = createTestAdmin();
  const org = async (name: string) => (await ok(admin, 'POST', '/v1/orgs', { name })).id as string;
  const orgs = { A: await org('org-a'), B: await org('org-b'), C: await org('org-c') };
  const team = async (orgId: string, name: string) =>
    (await ok(admin, 'POST', '/v1/teams', { org_id: orgId, name })).id as string;
  const teams = {
    A1: await team(orgs.A, 'a1'),
    A2: await team(orgs.A, 'a2'),
    A3: await team(orgs.A, 'a3'),
    B1: await team(orgs.B, 'b1'),
  };
  const users = {} as Record<UserName, string>;
  for (const name of [...ROLE_CALLERS, ...EXTRA_USERS]) {
    const body = await ok(admin, 'POST', '/v1/users', {
      email: `${name}@example.test`,
      name,
      platform_role: name === 'platform_admin' ? 'platform_admin' : 'org_user',
    });
    users[name] = body.id;
  }
  const orgMember = (orgId: string, user: UserName, role: string) =>
    ok(admin, 'PUT', `/v1/orgs/${orgId}/members/${users[user]}`, { role });
  const teamMember = (teamId: string, user: UserName, role: string) =>
    ok(admin, 'PUT', `/v1/teams/${teamId}/members/${users[user]}`, { role });
  await orgMember(orgs.A, 'org_owner', 'org_owner');
  await orgMember(orgs.A, 'org_admin', 'org_admin');
  await orgMember(orgs.A, 'org_auditor', 'org_auditor');
  await orgMember(orgs.A, 'org_member', 'org_member');
  await orgMember(orgs.A, 'memA', 'org_member');
  await orgMember(orgs.B, 'other_org', 'org_owner');
  await orgMember(orgs.B, 'memB', 'org_member');
  await teamMember(teams.A1, 'team_admin', 'team_admin');
  await teamMember(teams.A1, 'team_developer', 'team_developer');
  await teamMember(teams.A1, 'team_viewer', 'team_viewer');
  await teamMember(teams.A1, 'teammate', 'team_developer');
  await teamMember(teams.A2, 'a2member', 'team_developer');
  await teamMember(teams.B1, 'b1member', 'team_developer');

  const sa = async (teamId: string, name: string) =>
    (await ok(admin, 'POST', `/v1/teams/${teamId}/service-accounts`, { name })).id as string;
  const serviceAccounts = {
    A1: await sa(teams.A1, 'sa-a1'),
    A2: await sa(teams.A2, 'sa-a2'),
    B1: await sa(teams.B1, 'sa-b1'),
    A1WithKey: await sa(teams.A1, 'sa-a1-keyed'),
  };

  const ownKeys = {} as Record<RoleCaller, string>;
  for (const caller of ROLE_CALLERS) {
    ownKeys[caller] = insertKey(admin, {
      teamId: caller === 'other_org' ? teams.B1 : teams.A1,
      ownerUserId: users[caller],
    });
  }
  const keys = {
    teammate: insertKey(admin, { teamId: teams.A1, ownerUserId: users.teammate }),
    a2: insertKey(admin, { teamId: teams.A2, ownerUserId: users.a2member }),
    b1: insertKey(admin, { teamId: teams.B1, ownerUserId: users.b1member }),
    saA1: insertKey(admin, { teamId: teams.A1, ownerServiceAccountId: serviceAccounts.A1WithKey }),
  };

  const now = admin.clock.now();
  const targetId = `tgt_${randomBytes(8).toString('hex')}`;
  admin.deps.db
    .prepare('INSERT INTO targets (id, name, base_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
    .run(targetId, 'shared-model', 'http://127.0.0.1:9/v1', now, now);
  const group = (name: string, orgId: string | null) => {
    const id = `agrp_${randomBytes(8).toString('hex')}`;
    admin.deps.db
      .prepare('INSERT INTO access_groups (id, name, org_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, name, orgId, now, now);
    return id;
  };
  const groups = {
    global: group('global-group', null),
    A: group('group-a', orgs.A),
    B: group('group-b', orgs.B),
  };

  const tokens = {} as Record<UserName, string>;
  for (const [name, id] of Object.entries(users) as [UserName, string][]) {
    tokens[name] = (await admin.deps.credentials.mintUserToken(id, 365 * 86_400, admin.clock.now())).token;
  }
  const expiredToken = (
    await admin.deps.credentials.mintUserToken(users.platform_admin, 60, admin.clock.now() - 2 * 3600_000)
  ).token;

  return {
    admin,
    orgs,
    teams,
    users,
    tokens,
    expiredToken,
    ownKeys,
    keys,
    serviceAccounts,
    targets: { shared: targetId },
    groups,
    token(caller) {
      if (caller === 'no_token') return null;
      if (caller === 'expired') return expiredToken;
      if (caller === 'master') return TEST_MASTER_KEY;
      return tokens[caller];
    },
    async rolledBack(fn) {
      admin.deps.db.exec('BEGIN');
      try {
        return await fn();
      } finally {
        admin.deps.db.exec('ROLLBACK');
      }
    },
  };
}
