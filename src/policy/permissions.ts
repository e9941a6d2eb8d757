/**
 * Roles → permissions, exactly as API.md's role table. Pure data: the admin plane reads the
 * caller's memberships from SQLite on every request and asks this table.
 */
export const ORG_ROLES = ['org_owner', 'org_admin', 'org_auditor', 'org_member'] as const;
export const TEAM_ROLES = ['team_admin', 'team_developer', 'team_viewer'] as const;
export type OrgRole = (typeof ORG_ROLES)[number];
export type TeamRole = (typeof TEAM_ROLES)[number];

export type Permission =
  | 'org.read'
  | 'org.update'
  | 'org.members'
  | 'team.read'
  | 'team.create'
  | 'team.update'
  | 'team.caps'
  | 'team.delete'
  | 'team.members'
  | 'service_account.read'
  | 'service_account.manage'
  | 'access_group.manage'
  | 'audit.read'
  | 'usage.read'
  | 'key.create'
  | 'key.create_self'
  | 'key.read'
  | 'key.update'
  | 'key.revoke'
  | 'key.delete';

const KEY_ADMIN: Permission[] = ['key.create', 'key.read', 'key.update', 'key.revoke', 'key.delete'];

/** Org owners and admins hold the same permissions (API.md's role table). */
const ORG_ADMIN: readonly Permission[] = [
  ...KEY_ADMIN,
  'org.read',
  'org.update',
  'org.members',
  'team.read',
  'team.create',
  'team.update',
  // A team's budget, limits and access (teams.ts TEAM_CAP_FIELDS): not held by team admins, whose
  // spend they cap.
  'team.caps',
  'team.delete',
  'team.members',
  'service_account.read',
  'service_account.manage',
  'access_group.manage',
  'audit.read',
  'usage.read',
];

export const ORG_ROLE_PERMISSIONS: Record<OrgRole, readonly Permission[]> = {
  org_owner: ORG_ADMIN,
  org_admin: ORG_ADMIN,
  org_auditor: ['key.read', 'org.read', 'team.read', 'service_account.read', 'audit.read', 'usage.read'],
  org_member: ['org.read'],
};

/** Team roles grant permissions on the team (and read of its org). */
export const TEAM_ROLE_PERMISSIONS: Record<TeamRole, readonly Permission[]> = {
  team_admin: [
    ...KEY_ADMIN,
    'team.read',
    'team.update',
    'team.members',
    'service_account.read',
    'service_account.manage',
    'audit.read',
    'usage.read',
  ],
  team_developer: ['key.create_self', 'team.read', 'service_account.read'],
  team_viewer: ['team.read'],
};
