/**
 * The WHERE clause of `GET /v1/keys` (API.md, issue 5: All Keys / My Keys), built from the same
 * visibility rule as a single key (admin/keys/key-record.ts):
 *  - `view=all` (default for callers holding `key.read` somewhere): keys of teams where the caller
 *    has `key.read`, plus their own keys in teams where they have `key.create_self`;
 *  - `view=mine`: keys owned by the caller (that they can still see); callers without `key.read`
 *    anywhere always get this view.
 * Filters `team_id`, `status` and `q` (case-insensitive substring of name or display) narrow it.
 * The key table is aliased `k` and the team table `t`.
 */
import {
  ORG_ROLE_PERMISSIONS,
  TEAM_ROLE_PERMISSIONS,
  type Permission,
} from '../../src/policy/permissions.js';
import type { AccessView } from '../auth/access.js';

export interface KeyListRequest {
  view?: 'all' | 'mine' | undefined;
  team_id?: string | undefined;
  status?: 'active' | 'blocked' | 'revoked' | undefined;
  q?: string | undefined;
  tag?: string | undefined;
}

interface Clause {
  sql: string;
  params: unknown[];
}

function within(access: AccessView, permission: Permission): Clause {
  if (access.isPlatformAdmin) return { sql: '1', params: [] };
  const orgIds = [...access.orgRoles].filter(([, role]) => ORG_ROLE_PERMISSIONS[role].includes(permission));
  const teamIds = [...access.teamRoles].filter(([, t]) => TEAM_ROLE_PERMISSIONS[t.role].includes(permission));
  const parts: string[] = [];
  if (orgIds.length > 0) parts.push(`t.org_id IN (${orgIds.map(() => '?').join(',')})`);
  if (teamIds.length > 0) parts.push(`k.team_id IN (${teamIds.map(() => '?').join(',')})`);
  return {
    sql: parts.length === 0 ? '0' : `(${parts.join(' OR ')})`,
    params: [...orgIds.map(([id]) => id), ...teamIds.map(([id]) => id)],
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** The effective view: `all` is only for callers that hold `key.read` somewhere. */
export function effectiveView(access: AccessView, requested: 'all' | 'mine' | undefined): 'all' | 'mine' {
  const readsSomewhere = within(access, 'key.read').sql !== '0';
  return readsSomewhere ? (requested ?? 'all') : 'mine';
}

/** The shown status (admin/keys/key-record.ts `keyStatus`): revoked > blocked (key or owner) > active. */
function statusClause(status: 'active' | 'blocked' | 'revoked'): Clause {
  const blocked = '(k.blocked = 1 OR IFNULL(u.blocked, 0) = 1)';
  if (status === 'revoked') return { sql: "k.status = 'revoked'", params: [] };
  if (status === 'blocked') return { sql: `(k.status = 'active' AND ${blocked})`, params: [] };
  return { sql: `(k.status = 'active' AND NOT ${blocked})`, params: [] };
}

export function keyListFilter(access: AccessView, request: KeyListRequest): Clause {
  const read = within(access, 'key.read');
  const self = within(access, 'key.create_self');
  const me = access.userId;
  const own: Clause =
    me === null
      ? { sql: '0', params: [] }
      : { sql: "(k.owner_type = 'user' AND k.owner_user_id = ?)", params: [me] };

  const parts: Clause[] = [];
  if (effectiveView(access, request.view) === 'all') {
    parts.push({
      sql: `(${read.sql} OR (${own.sql} AND ${self.sql}))`,
      params: [...read.params, ...own.params, ...self.params],
    });
  } else {
    parts.push({
      sql: `(${own.sql} AND (${read.sql} OR ${self.sql}))`,
      params: [...own.params, ...read.params, ...self.params],
    });
  }
  if (request.team_id !== undefined) parts.push({ sql: 'k.team_id = ?', params: [request.team_id] });
  if (request.status !== undefined) parts.push(statusClause(request.status));
  if (request.tag !== undefined)
    parts.push({ sql: 'EXISTS (SELECT 1 FROM json_each(k.tags) WHERE value = ?)', params: [request.tag] });
  if (request.q !== undefined && request.q !== '') {
    const pattern = `%${escapeLike(request.q)}%`;
    parts.push({
      sql: "(k.name LIKE ? ESCAPE '\\' OR k.display LIKE ? ESCAPE '\\')",
      params: [pattern, pattern],
    });
  }
  return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params) };
}
