/**
 * What the caller may do, read from SQLite on every request (so removing a membership takes
 * effect on the next request). Objects outside every scope of the caller are invisible: routes
 * answer 404 for them, and 403 only when the caller can see the object but lacks the permission.
 */
import type { Database } from '../../src/storage/database.js';
import {
  ORG_ROLE_PERMISSIONS,
  TEAM_ROLE_PERMISSIONS,
  type OrgRole,
  type Permission,
  type TeamRole,
} from '../../src/policy/permissions.js';
import type { AuditActor } from '../../src/storage/journal.js';
import { rolesOfUser } from '../../src/storage/membership-repository.js';

export interface UserRow {
  id: string;
  email: string;
  name: string | null;
  platform_role: 'platform_admin' | 'org_user';
  /** 1 while blocked (POST /v1/users/:id/block): every key the user owns is refused. */
  blocked: number;
  created_at: number;
  updated_at: number;
}

export type Caller = { kind: 'master' } | { kind: 'user'; user: UserRow };

export interface ScopeRef {
  orgId: string;
  teamId?: string | null;
}

export class AccessView {
  readonly isPlatformAdmin: boolean;

  constructor(
    readonly caller: Caller,
    readonly orgRoles: ReadonlyMap<string, OrgRole>,
    readonly teamRoles: ReadonlyMap<string, { role: TeamRole; orgId: string }>,
  ) {
    this.isPlatformAdmin = caller.kind === 'master' || caller.user.platform_role === 'platform_admin';
  }

  static load(db: Database, caller: Caller): AccessView {
    if (caller.kind === 'master' || caller.user.platform_role === 'platform_admin') {
      return new AccessView(caller, new Map(), new Map());
    }
    const roles = rolesOfUser(db, caller.user.id);
    return new AccessView(
      caller,
      new Map(roles.orgs.map((row) => [row.org_id, row.role as OrgRole])),
      new Map(roles.teams.map((row) => [row.team_id, { role: row.role as TeamRole, orgId: row.org_id }])),
    );
  }

  get userId(): string | null {
    return this.caller.kind === 'user' ? this.caller.user.id : null;
  }

  get auditActor(): AuditActor {
    return this.caller.kind === 'master'
      ? { type: 'master_key', id: null }
      : { type: 'user', id: this.caller.user.id };
  }

  /** Every permission the caller holds in this scope. */
  permissions(scope: ScopeRef): Set<Permission> {
    const granted = new Set<Permission>();
    const orgRole = this.orgRoles.get(scope.orgId);
    if (orgRole !== undefined) for (const p of ORG_ROLE_PERMISSIONS[orgRole]) granted.add(p);
    if (scope.teamId !== undefined && scope.teamId !== null) {
      const team = this.teamRoles.get(scope.teamId);
      if (team !== undefined) for (const p of TEAM_ROLE_PERMISSIONS[team.role]) granted.add(p);
    } else {
      // A team member can see the org the team belongs to.
      for (const team of this.teamRoles.values()) if (team.orgId === scope.orgId) granted.add('org.read');
    }
    return granted;
  }

  can(permission: Permission, scope: ScopeRef): boolean {
    return this.isPlatformAdmin || this.permissions(scope).has(permission);
  }

  /** Visible = the caller holds at least one permission there. */
  canSee(scope: ScopeRef): boolean {
    return this.isPlatformAdmin || this.permissions(scope).size > 0;
  }

  /** Org ids where the caller holds any role (directly or through a team). */
  visibleOrgIds(): Set<string> {
    const ids = new Set(this.orgRoles.keys());
    for (const team of this.teamRoles.values()) ids.add(team.orgId);
    return ids;
  }
}
