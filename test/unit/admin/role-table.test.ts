/**
 * The role → key-permission table of API.md, checked against src/policy/permissions.ts, and the
 * platform permission list /v1/me reports for platform admins.
 */
import { describe, expect, it } from 'vitest';
import { ALL_PERMISSIONS } from '../../../admin/routes/users.js';
import { ORG_ROLE_PERMISSIONS, TEAM_ROLE_PERMISSIONS } from '../../../src/policy/permissions.js';

const keyPermissions = (permissions: readonly string[]) =>
  permissions.filter((p) => p.startsWith('key.')).sort();
const ADMIN_KEYS = ['key.create', 'key.delete', 'key.read', 'key.revoke', 'key.update'];

describe('API.md role table', () => {
  it.each([
    ['org_owner', ADMIN_KEYS],
    ['org_admin', ADMIN_KEYS],
    ['org_auditor', ['key.read']],
    ['org_member', []],
  ] as const)('%s holds exactly the key permissions %j in its org', (role, expected) => {
    expect(keyPermissions(ORG_ROLE_PERMISSIONS[role])).toEqual(expected);
  });

  it.each([
    ['team_admin', ADMIN_KEYS],
    ['team_developer', ['key.create_self']],
    ['team_viewer', []],
  ] as const)('%s holds exactly the key permissions %j in its team', (role, expected) => {
    expect(keyPermissions(TEAM_ROLE_PERMISSIONS[role])).toEqual(expected);
  });

  it('audit log: org owners/admins/auditors and team admins read it; nobody else', () => {
    const readers = [...Object.entries(ORG_ROLE_PERMISSIONS), ...Object.entries(TEAM_ROLE_PERMISSIONS)]
      .filter(([, permissions]) => permissions.includes('audit.read'))
      .map(([role]) => role)
      .sort();
    expect(readers).toEqual(['org_admin', 'org_auditor', 'org_owner', 'team_admin']);
  });

  it('team settings: org owners/admins and team admins; only org owners/admins create or delete teams or set their caps', () => {
    const holders = (permission: string) =>
      [...Object.entries(ORG_ROLE_PERMISSIONS), ...Object.entries(TEAM_ROLE_PERMISSIONS)]
        .filter(([, permissions]) => (permissions as readonly string[]).includes(permission))
        .map(([role]) => role)
        .sort();
    expect(holders('team.update')).toEqual(['org_admin', 'org_owner', 'team_admin']);
    expect(holders('team.create')).toEqual(['org_admin', 'org_owner']);
    expect(holders('team.delete')).toEqual(['org_admin', 'org_owner']);
    // A team's budget, limits and access cap the team admin's own spend: set one level up.
    expect(holders('team.caps')).toEqual(['org_admin', 'org_owner']);
  });

  it('a platform admin is reported with every permission of every role, once each', () => {
    const union = new Set([
      ...Object.values(ORG_ROLE_PERMISSIONS).flat(),
      ...Object.values(TEAM_ROLE_PERMISSIONS).flat(),
    ]);
    expect(new Set(ALL_PERMISSIONS)).toEqual(union);
    expect(ALL_PERMISSIONS.length).toBe(union.size);
  });
});
