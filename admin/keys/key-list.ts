/**
 * What `GET /v1/keys` lists (API.md, issue 5: All Keys / My Keys), from the same visibility rule
 * as a single key (admin/keys/key-record.ts):
 *  - `view=all` (default for callers holding `key.read` somewhere): keys of teams where the caller
 *    has `key.read`, plus their own keys in teams where they have `key.create_self`;
 *  - `view=mine`: keys owned by the caller (that they can still see); callers without `key.read`
 *    anywhere always get this view.
 * Filters `team_id`, `status`, `tag` and `q` (case-insensitive substring of name or display)
 * narrow it. The SQL is built by the key repository (src/storage/key-repository.ts `keyListQuery`).
 */
import {
  ORG_ROLE_PERMISSIONS,
  TEAM_ROLE_PERMISSIONS,
  type Permission,
} from '../../src/policy/permissions.js';
import type { KeyListFilter, KeyScopes } from '../../src/storage/key-repository.js';
import type { AccessView } from '../auth/access.js';

export interface KeyListRequest {
  view?: 'all' | 'mine' | undefined;
  team_id?: string | undefined;
  status?: 'active' | 'blocked' | 'revoked' | undefined;
  q?: string | undefined;
  tag?: string | undefined;
}

/** Where the caller holds `permission`: everywhere (platform admin), or these orgs and teams. */
function scopesWith(access: AccessView, permission: Permission): KeyScopes {
  if (access.isPlatformAdmin) return 'all';
  const orgIds = [...access.orgRoles]
    .filter(([, role]) => ORG_ROLE_PERMISSIONS[role].includes(permission))
    .map(([id]) => id);
  const teamIds = [...access.teamRoles]
    .filter(([, t]) => TEAM_ROLE_PERMISSIONS[t.role].includes(permission))
    .map(([id]) => id);
  return { orgIds, teamIds };
}

const holdsAnywhere = (scopes: KeyScopes): boolean =>
  scopes === 'all' || scopes.orgIds.length > 0 || scopes.teamIds.length > 0;

/** The effective view: `all` is only for callers that hold `key.read` somewhere. */
export function effectiveView(access: AccessView, requested: 'all' | 'mine' | undefined): 'all' | 'mine' {
  return holdsAnywhere(scopesWith(access, 'key.read')) ? (requested ?? 'all') : 'mine';
}

export function keyListFilter(access: AccessView, request: KeyListRequest): KeyListFilter {
  return {
    view: effectiveView(access, request.view),
    userId: access.userId,
    read: scopesWith(access, 'key.read'),
    self: scopesWith(access, 'key.create_self'),
    teamId: request.team_id,
    status: request.status,
    q: request.q,
    tag: request.tag,
  };
}
