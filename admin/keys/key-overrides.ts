/**
 * Temporary overrides of a key's limits (issue 14 item 5): stored per key with `expires_at`;
 * the resolved policy carries the unexpired ones and each gateway applies the newest one still
 * running at the request's time, so an override lapses by itself on every gateway at
 * `expires_at` with no admin call at that moment.
 */
import { z } from '@hono/zod-openapi';
import { usdToMicros, microsToUsd } from '../../src/money.js';
import type { Limits } from '../../src/policy/limits.js';
import type { Database } from '../../src/storage/database.js';
import { activeKeyOverrides, type OverrideRow } from '../../src/storage/key-override-repository.js';
import { isoOrNull } from '../schemas.js';

const positiveInt = z.number().int().positive();

/** Each limit set here replaces the key's own while the override runs; `null` lifts it. */
export const OverrideCreate = z.object({
  max_budget: z.number().nonnegative().max(1e9).nullable().optional(),
  rpm_limit: positiveInt.nullable().optional(),
  tpm_limit: positiveInt.nullable().optional(),
  rph_limit: positiveInt.nullable().optional(),
  rpd_limit: positiveInt.nullable().optional(),
  tpd_limit: positiveInt.nullable().optional(),
  max_parallel_requests: positiveInt.nullable().optional(),
  expires_at: z.iso.datetime({ offset: true }),
  reason: z.string().max(500).optional(),
});
export type OverrideInput = z.infer<typeof OverrideCreate>;

const FIELD_TO_LIMIT = {
  rpm_limit: 'rpm',
  tpm_limit: 'tpm',
  rph_limit: 'rph',
  rpd_limit: 'rpd',
  tpd_limit: 'tpd',
  max_parallel_requests: 'maxParallel',
} as const;

/** The `Limits` fields the override sets (stored as JSON in key_overrides.limits). */
export function overrideLimits(input: OverrideInput): Partial<Limits> {
  const out: Partial<Limits> = {};
  if (input.max_budget !== undefined)
    out.maxBudgetMicros = input.max_budget === null ? null : usdToMicros(input.max_budget);
  for (const [field, limit] of Object.entries(FIELD_TO_LIMIT) as [keyof typeof FIELD_TO_LIMIT, string][]) {
    const value = input[field];
    if (value !== undefined) (out as Record<string, number | null>)[limit] = value;
  }
  return out;
}

export type { OverrideRow };

export function overrideView(row: OverrideRow) {
  const limits = JSON.parse(row.limits) as Partial<Limits>;
  const view: Record<string, number | null> = {};
  if (limits.maxBudgetMicros !== undefined)
    view.max_budget = limits.maxBudgetMicros === null ? null : microsToUsd(limits.maxBudgetMicros);
  for (const [field, limit] of Object.entries(FIELD_TO_LIMIT)) {
    const value = (limits as Record<string, number | null | undefined>)[limit];
    if (value !== undefined) view[field] = value;
  }
  return {
    id: row.id,
    limits: view,
    expires_at: isoOrNull(row.expires_at),
    reason: row.reason,
    created_by: row.created_by,
    created_at: isoOrNull(row.created_at),
  };
}

/** The key's overrides still running at `now`, newest first (the first one applies). */
export function activeOverrides(db: Database, keyId: string, now: number): OverrideRow[] {
  return activeKeyOverrides(db, keyId, now);
}
