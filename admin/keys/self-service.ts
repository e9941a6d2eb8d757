/**
 * The team's self-service policy (API.md "Keys", issue 5), checked for a caller whose only key
 * permission on the team is `key.create_self`. Call it inside the same `BEGIN IMMEDIATE`
 * transaction as the insert (admin/mutation.ts `mutate`): the count of the user's active keys and
 * the insert then see the same database, so concurrent creates cannot overshoot the maximum.
 *
 * Order of the checks (the first failure is reported):
 *  1. self-service disabled                      → 403 self_service_disabled
 *  2. active own keys in the team ≥ max          → 403 max_keys_per_user_reached
 *  3. budget missing (team has a ceiling), above it, or given in shadow mode (a shadow budget never
 *     refuses, so it would bound nothing)       → 400 budget_exceeds_team_ceiling (max_budget)
 *     a budget period under a ceiling (the ceiling bounds the key's lifetime spend, not one day's)
 *                                                → 400 budget_period_not_allowed (budget_period)
 *  4. expiry missing while required              → 400 expiry_required (expires_at)
 *  5. expiry beyond max_expiry_days, or missing while a maximum is set
 *                                                → 400 expiry_exceeds_team_max (the expiry field)
 *  6. a window limit or max_parallel_requests above the team's
 *                                                → 400 limit_exceeds_team_limit (the field)
 * "Active" = status active and not expired.
 */
import { KeygateError } from '../../src/errors/keygate-error.js';
import { WINDOW_FIELDS, type WindowField } from '../../src/policy/limits.js';
import type { Database } from '../../src/storage/database.js';
import { countActiveOwnKeys } from '../../src/storage/key-repository.js';
import type { LimitColumns } from '../schemas.js';
import { DAY_MS } from '../../src/ratelimit/windows.js';

export interface TeamPolicyRow extends LimitColumns {
  id: string;
  org_id: string;
  name: string;
  ss_enabled: number;
  ss_max_keys_per_user: number | null;
  ss_budget_ceiling_micros: number | null;
  ss_require_expiry: number;
  ss_max_expiry_days: number | null;
}

/** The key limits a self-service key must keep within the team's: the windows and the parallel cap. */
export const TEAM_CAPPED_FIELDS = [...WINDOW_FIELDS, 'max_parallel_requests'] as const;
export type TeamCappedField = WindowField | 'max_parallel_requests';

export interface RequestedKeyBounds {
  maxBudgetMicros: number | null;
  /** The budget was given as `{value, mode: "shadow"}`: counted, never refusing. */
  budgetShadow: boolean;
  /** The requested `budget_period` (`null` or absent = lifetime). */
  budgetPeriod: string | null;
  /** The requested window limits and parallel cap (`null` = none). */
  limits: Record<TeamCappedField, number | null>;
  expiresAt: number | null;
  /** The request field that carried the expiry (for `param`). */
  expiryParam: 'expires_at' | 'expires_in_days';
}

export function enforceSelfServicePolicy(
  db: Database,
  team: TeamPolicyRow,
  userId: string,
  bounds: RequestedKeyBounds,
  now: number,
): void {
  if (team.ss_enabled !== 1) throw new KeygateError('self_service_disabled');

  if (team.ss_max_keys_per_user !== null) {
    if (countActiveOwnKeys(db, team.id, userId, now) >= team.ss_max_keys_per_user) {
      throw new KeygateError('max_keys_per_user_reached', {
        message: `You already have ${team.ss_max_keys_per_user} active keys in this team (the team's maximum).`,
      });
    }
  }

  const ceiling = team.ss_budget_ceiling_micros;
  if (
    ceiling !== null &&
    (bounds.maxBudgetMicros === null || bounds.maxBudgetMicros > ceiling || bounds.budgetShadow)
  ) {
    throw new KeygateError('budget_exceeds_team_ceiling', {
      param: 'max_budget',
      message: `max_budget is required, enforced (not shadow) and at most ${ceiling / 1_000_000} USD (the team's self-service ceiling).`,
    });
  }
  if (ceiling !== null && bounds.budgetPeriod !== null) {
    throw new KeygateError('budget_period_not_allowed', {
      param: 'budget_period',
      message: `Under the team's self-service ceiling of ${ceiling / 1_000_000} USD a key's budget is a lifetime budget: leave budget_period out.`,
    });
  }

  if (team.ss_require_expiry === 1 && bounds.expiresAt === null) {
    throw new KeygateError('expiry_required', { param: 'expires_at' });
  }

  const maxDays = team.ss_max_expiry_days;
  if (maxDays !== null && (bounds.expiresAt === null || bounds.expiresAt > now + maxDays * DAY_MS)) {
    throw new KeygateError('expiry_exceeds_team_max', {
      param: bounds.expiresAt === null ? 'expires_at' : bounds.expiryParam,
      message: `The key must expire within ${maxDays} days (the team's maximum).`,
    });
  }

  for (const field of TEAM_CAPPED_FIELDS) {
    const teamLimit = team[field];
    const requested = bounds.limits[field];
    if (teamLimit !== null && requested !== null && requested > teamLimit) {
      throw new KeygateError('limit_exceeds_team_limit', {
        param: field,
        message: `${field} must be at most ${teamLimit} (the team's limit).`,
      });
    }
  }
}
