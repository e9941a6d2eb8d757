/**
 * Key rows as the admin API shows them (API.md `KeyView`) and who may see or act on them.
 *
 * Visibility rule (issue 5): a key is visible to callers holding `key.read` in its team's scope,
 * and to its owner when the owner holds `key.create_self` there. Anyone else gets 404 — a
 * team developer asking for another user's key id cannot tell it exists.
 */
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { Permission } from '../../src/policy/permissions.js';
import type { Database } from '../../src/storage/database.js';
import { effectiveTargetNames } from '../../src/storage/access-repository.js';
import { findKeyRecord } from '../../src/storage/key-repository.js';
import { accessView } from '../access-bindings.js';
import type { AccessView } from '../auth/access.js';
import { isoOrNull, limitView, type LimitColumns } from '../schemas.js';
import { activeOverrides, overrideView } from './key-overrides.js';

export interface KeyRow extends LimitColumns {
  id: string;
  name: string;
  team_id: string;
  owner_type: 'user' | 'service_account';
  owner_user_id: string | null;
  owner_service_account_id: string | null;
  status: 'active' | 'revoked';
  token_hash: string;
  display: string;
  previous_token_hash: string | null;
  previous_valid_until: number | null;
  expires_at: number | null;
  access_mode: 'inherit' | 'restrict';
  metadata: string;
  self_service: number;
  blocked: number;
  tags: string;
  allow_request_tags: number;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
}

/** A key row joined with what its view needs (team name, org, owner name). */
export interface KeyRecord extends KeyRow {
  team_name: string;
  org_id: string;
  owner_user_name: string | null;
  owner_user_email: string | null;
  owner_sa_name: string | null;
  /** 1 when the owning user is blocked (which blocks every key they own). */
  owner_blocked: number | null;
}

export function loadKeyRecord(db: Database, id: string): KeyRecord | undefined {
  return findKeyRecord<KeyRecord>(db, id);
}

/** Every token hash the key answers to right now (current, and previous during a grace period). */
export function tokenHashesOf(row: Pick<KeyRow, 'token_hash' | 'previous_token_hash'>): string[] {
  return row.previous_token_hash === null ? [row.token_hash] : [row.token_hash, row.previous_token_hash];
}

/** The status a key shows and the gateway enforces: revoked (final) > blocked > active. */
export function keyStatus(
  row: Pick<KeyRecord, 'status' | 'blocked' | 'owner_blocked'>,
): 'active' | 'blocked' | 'revoked' {
  if (row.status === 'revoked') return 'revoked';
  return row.blocked === 1 || row.owner_blocked === 1 ? 'blocked' : 'active';
}

export function keyView(db: Database, row: KeyRecord, now: number) {
  const ownerId = row.owner_type === 'user' ? row.owner_user_id : row.owner_service_account_id;
  const ownerName =
    row.owner_type === 'user' ? (row.owner_user_name ?? row.owner_user_email) : row.owner_sa_name;
  return {
    id: row.id,
    name: row.name,
    token_hash: row.token_hash,
    display: row.display,
    team: { id: row.team_id, name: row.team_name },
    org_id: row.org_id,
    owner: { type: row.owner_type, id: ownerId, name: ownerName },
    status: keyStatus(row),
    /** Who blocked it: the key itself, its owning user, or null. */
    blocked_by: row.blocked === 1 ? 'key' : row.owner_blocked === 1 ? 'owner' : null,
    self_service: row.self_service === 1,
    ...limitView(row, now),
    overrides: activeOverrides(db, row.id, now).map(overrideView),
    tags: JSON.parse(row.tags) as string[],
    allow_request_tags: row.allow_request_tags === 1,
    expires_at: isoOrNull(row.expires_at),
    access: accessView(db, 'key', row.id),
    effective_targets: effectiveTargetNames(db, { orgId: row.org_id, teamId: row.team_id, keyId: row.id }),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
    last_used_at: isoOrNull(row.last_used_at),
    created_by: row.created_by,
  };
}

export type KeyView = ReturnType<typeof keyView>;

function scopeOf(row: Pick<KeyRecord, 'org_id' | 'team_id'>) {
  return { orgId: row.org_id, teamId: row.team_id };
}

export function isOwnKey(access: AccessView, row: Pick<KeyRow, 'owner_type' | 'owner_user_id'>): boolean {
  const userId = access.userId;
  return userId !== null && row.owner_type === 'user' && row.owner_user_id === userId;
}

export function canSeeKey(access: AccessView, row: KeyRecord): boolean {
  const scope = scopeOf(row);
  return access.can('key.read', scope) || (isOwnKey(access, row) && access.can('key.create_self', scope));
}

/** The key, or 404 when it is missing or invisible to the caller. */
export function visibleKey(db: Database, access: AccessView, id: string): KeyRecord {
  const row = loadKeyRecord(db, id);
  if (row === undefined || !canSeeKey(access, row)) throw new KeygateError('not_found');
  return row;
}

export type KeyAction = 'update' | 'regenerate' | 'revoke' | 'delete';

const ACTION_PERMISSION: Record<KeyAction, Permission> = {
  update: 'key.update',
  regenerate: 'key.update',
  revoke: 'key.revoke',
  delete: 'key.delete',
};

/**
 * Under which authority the caller may act on a visible key: as an admin of its scope, or as
 * its self-service owner (regenerate, revoke, delete; never update, which could lift the
 * team's self-service bounds). Otherwise 403: the caller can see the key, so 404 would lie.
 */
export function keyAuthority(
  access: AccessView,
  row: KeyRecord,
  action: KeyAction,
): 'admin' | 'self_service' {
  const scope = scopeOf(row);
  if (access.can(ACTION_PERMISSION[action], scope)) return 'admin';
  if (action !== 'update' && isOwnKey(access, row) && access.can('key.create_self', scope)) {
    return 'self_service';
  }
  throw new KeygateError('forbidden');
}
