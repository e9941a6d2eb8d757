/**
 * Who owns a new key (API.md `owner`, issue 5). Runs inside the create transaction, so a
 * service account created here exists only if the key does.
 *
 * - absent or `{type: "user"}`: the caller ("You"). A master-key caller is no user: its keys
 *   have owner `{type: "user", id: null, name: null}` (no human owner; the same shape a key
 *   takes when its owning user is deleted). Name a service account to give them one.
 * - `{type: "service_account", id}`: an existing service account of the key's team; unknown or
 *   invisible → 404 (`owner.id`), one of another team the caller can see → 400 (`owner.id`).
 * - `{type: "service_account", create: {name, description?}}`: a new service account of the team
 *   (needs `service_account.manage` there; a duplicate name → 409 `owner.create.name`).
 */
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import {
  findServiceAccount,
  findServiceAccountScope,
  insertServiceAccount,
  serviceAccountNameTaken,
} from '../../src/storage/service-account-repository.js';
import type { AccessView } from '../auth/access.js';
import type { AdminDeps } from '../context.js';
import type { Journal } from '../mutation.js';
import { serviceAccountView } from '../service-account-view.js';
import type { KeyCreateInput } from './key-input.js';
import type { TeamPolicyRow } from './self-service.js';

export interface KeyOwner {
  ownerType: 'user' | 'service_account';
  userId: string | null;
  serviceAccountId: string | null;
}

export function resolveKeyOwner(
  deps: AdminDeps,
  access: AccessView,
  team: TeamPolicyRow,
  owner: KeyCreateInput['owner'],
  journal: Journal,
): KeyOwner {
  if (owner === undefined || owner.type === 'user') {
    return { ownerType: 'user', userId: access.userId, serviceAccountId: null };
  }
  const scope = { orgId: team.org_id, teamId: team.id };
  if ('id' in owner) {
    const account = findServiceAccountScope(deps.db, owner.id);
    if (account === undefined || !access.canSee({ orgId: account.org_id, teamId: account.team_id })) {
      throw new KeygateError('not_found', { param: 'owner.id', message: 'No such service account.' });
    }
    if (account.team_id !== team.id) {
      throw new KeygateError('invalid_request', {
        param: 'owner.id',
        message: 'The service account belongs to another team; a key and its owner share a team.',
      });
    }
    return { ownerType: 'service_account', userId: null, serviceAccountId: account.id };
  }
  if (!access.can('service_account.manage', scope)) {
    throw new KeygateError('forbidden', {
      param: 'owner.create',
      message: 'Creating a service account needs service_account.manage on the team.',
    });
  }
  if (serviceAccountNameTaken(deps.db, team.id, owner.create.name)) {
    throw new KeygateError('conflict', {
      param: 'owner.create.name',
      message: `The team already has a service account named "${owner.create.name}".`,
    });
  }
  const id = newId('sa');
  const account = {
    id,
    team_id: team.id,
    name: owner.create.name,
    description: owner.create.description ?? null,
    created_by: access.userId,
    created_at: journal.now,
  };
  insertServiceAccount(deps.db, account);
  // Audited as its own route audits it (the API view), not as the row.
  const created = findServiceAccount(deps.db, id)!;
  journal.audit({
    action: 'service_account.create',
    entityType: 'service_account',
    entityId: id,
    orgId: team.org_id,
    teamId: team.id,
    after: serviceAccountView(deps, created, team.org_id),
  });
  return { ownerType: 'service_account', userId: null, serviceAccountId: id };
}
