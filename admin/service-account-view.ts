/**
 * The API view of a service account (`GET /v1/teams/:id/service-accounts`), which is also what
 * its audit rows record, wherever it is created (its own route, or with a key: keys/key-owner.ts).
 */
import {
  serviceAccountKeyCounts,
  type ServiceAccountRow,
} from '../src/storage/service-account-repository.js';
import type { AdminDeps } from './context.js';
import { isoOrNull } from './schemas.js';

export function serviceAccountView(deps: AdminDeps, row: ServiceAccountRow, orgId: string) {
  const counts = serviceAccountKeyCounts(deps.db, row.id);
  return {
    id: row.id,
    team_id: row.team_id,
    org_id: orgId,
    name: row.name,
    description: row.description,
    key_count: counts.keys,
    active_key_count: counts.active,
    created_by: row.created_by,
    created_at: isoOrNull(row.created_at),
  };
}
