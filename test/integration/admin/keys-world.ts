/**
 * A small world for the keys tests over the in-process admin: two orgs, three teams, one user
 * per role, a service account and two targets, with a JWT per user.
 */
import { createTestAdmin, type TestAdmin } from '../../helpers/admin-harness.js';
import { Seeder, tokenMinter, type TeamSeed } from './keys-fixtures.js';

export interface KeysWorld {
  admin: TestAdmin;
  seed: Seeder;
  orgA: string;
  orgB: string;
  teamA1: string;
  teamA2: string;
  teamB1: string;
  saA1: string;
  users: Record<
    'platformAdmin' | 'orgAdminA' | 'auditorA' | 'teamAdminA1' | 'devA1' | 'dev2A1' | 'viewerA1' | 'adminB',
    string
  >;
  tokens: KeysWorld['users'];
  /** POST /v1/keys as `token` (master key when omitted); returns the parsed response. */
  createKey(
    body: Record<string, unknown>,
    token?: string,
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

export async function keysWorld(teamA1Seed: TeamSeed = {}): Promise<KeysWorld> {
  const admin = createTestAdmin();
  const seed = new Seeder(admin.deps.db, admin.clock.now());
  const orgA = seed.org('org-a');
  const orgB = seed.org('org-b');
  const teamA1 = seed.team(orgA, { name: 'a1', ...teamA1Seed });
  const teamA2 = seed.team(orgA, { name: 'a2' });
  const teamB1 = seed.team(orgB, { name: 'b1' });
  const saA1 = seed.serviceAccount(teamA1, 'ci-bot');
  seed.target('gpt-4o-mini');
  seed.target('claude-haiku');
  const users = {
    platformAdmin: seed.user('Pat Admin', 'platform_admin'),
    orgAdminA: seed.user('Olga OrgAdmin'),
    auditorA: seed.user('Aud Itor'),
    teamAdminA1: seed.user('Tim TeamAdmin'),
    devA1: seed.user('Dev One'),
    dev2A1: seed.user('Dev Two'),
    viewerA1: seed.user('Vic Viewer'),
    adminB: seed.user('Bea OtherOrg'),
  };
  seed.orgMember(orgA, users.orgAdminA, 'org_admin');
  seed.orgMember(orgA, users.auditorA, 'org_auditor');
  seed.teamMember(teamA1, users.teamAdminA1, 'team_admin');
  seed.teamMember(teamA1, users.devA1, 'team_developer');
  seed.teamMember(teamA1, users.dev2A1, 'team_developer');
  seed.teamMember(teamA1, users.viewerA1, 'team_viewer');
  seed.orgMember(orgB, users.adminB, 'org_admin');
  const mint = tokenMinter(admin.deps.db, undefined, () => admin.clock.now());
  const tokens = Object.fromEntries(
    await Promise.all(Object.entries(users).map(async ([role, id]) => [role, await mint(id)])),
  ) as KeysWorld['users'];
  return {
    admin,
    seed,
    orgA,
    orgB,
    teamA1,
    teamA2,
    teamB1,
    saA1,
    users,
    tokens,
    createKey: (body, token) =>
      admin.call('POST', '/v1/keys', token === undefined ? { body } : { body, token }),
  };
}
