/**
 * Org and team memberships in SQLite (`org_members`, `team_members`), and the self-service keys a
 * member leaves behind in a team. Scope names the table; table names come from code.
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export type MembershipScope = 'org' | 'team';

const TABLE = { org: 'org_members', team: 'team_members' } as const;
const COLUMN = { org: 'org_id', team: 'team_id' } as const;

export function findMembership(
  db: Database,
  scope: MembershipScope,
  scopeId: string,
  userId: string,
): { role: string } | undefined {
  return prepared(db, `SELECT * FROM ${TABLE[scope]} WHERE ${COLUMN[scope]} = ? AND user_id = ?`).get(
    scopeId,
    userId,
  ) as { role: string } | undefined;
}

export function putMembership(
  db: Database,
  scope: MembershipScope,
  membership: { scopeId: string; userId: string; role: string; now: number },
): void {
  prepared(
    db,
    `INSERT INTO ${TABLE[scope]} (${COLUMN[scope]}, user_id, role, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(${COLUMN[scope]}, user_id) DO UPDATE SET role = excluded.role`,
  ).run(membership.scopeId, membership.userId, membership.role, membership.now);
}

export function deleteMembership(
  db: Database,
  scope: MembershipScope,
  scopeId: string,
  userId: string,
): void {
  prepared(db, `DELETE FROM ${TABLE[scope]} WHERE ${COLUMN[scope]} = ? AND user_id = ?`).run(scopeId, userId);
}

export function userExists(db: Database, userId: string): boolean {
  return prepared(db, 'SELECT 1 FROM users WHERE id = ?').get(userId) !== undefined;
}

/** Whether the user holds a role in the org, directly or through one of its teams. */
export function userInOrg(db: Database, orgId: string, userId: string): boolean {
  return (
    prepared(
      db,
      `SELECT 1 FROM org_members WHERE org_id = @org AND user_id = @user
       UNION SELECT 1 FROM team_members tm JOIN teams t ON t.id = tm.team_id
       WHERE t.org_id = @org AND tm.user_id = @user`,
    ).get({ org: orgId, user: userId }) !== undefined
  );
}

/** Active self-service keys the user created in the team. */
export function activeSelfServiceKeys(
  db: Database,
  teamId: string,
  userId: string,
): { id: string; token_hash: string; previous_token_hash: string | null }[] {
  return prepared(
    db,
    `SELECT id, token_hash, previous_token_hash FROM keys
     WHERE team_id = ? AND owner_user_id = ? AND self_service = 1 AND status = 'active'`,
  ).all(teamId, userId) as { id: string; token_hash: string; previous_token_hash: string | null }[];
}

/** Every org and team role the user holds (team roles with the team's org): the caller's access. */
export function rolesOfUser(
  db: Database,
  userId: string,
): {
  orgs: { org_id: string; role: string }[];
  teams: { team_id: string; role: string; org_id: string }[];
} {
  const orgs = prepared(db, 'SELECT org_id, role FROM org_members WHERE user_id = ?').all(userId) as {
    org_id: string;
    role: string;
  }[];
  const teams = prepared(
    db,
    'SELECT tm.team_id, tm.role, t.org_id FROM team_members tm JOIN teams t ON t.id = tm.team_id WHERE tm.user_id = ?',
  ).all(userId) as { team_id: string; role: string; org_id: string }[];
  return { orgs, teams };
}
