/**
 * Request schemas shared by several routes (zod via @hono/zod-openapi, so the same schema
 * validates the request and documents it in /openapi.json).
 */
import { z } from '@hono/zod-openapi';
import { usdToMicros, microsToUsd } from '../src/money.js';

const positiveInt = z.number().int().positive();

/** The five window limits + budget, each optional; `null` clears it on PATCH. */
export const limitFields = {
  max_budget: z.number().nonnegative().max(1e9).nullable().optional(),
  rpm_limit: positiveInt.nullable().optional(),
  tpm_limit: positiveInt.nullable().optional(),
  rph_limit: positiveInt.nullable().optional(),
  rpd_limit: positiveInt.nullable().optional(),
  tpd_limit: positiveInt.nullable().optional(),
};

export interface LimitInput {
  max_budget?: number | null;
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  rph_limit?: number | null;
  rpd_limit?: number | null;
  tpd_limit?: number | null;
}

export interface LimitColumns {
  max_budget_micros: number | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  rph_limit: number | null;
  rpd_limit: number | null;
  tpd_limit: number | null;
  spend_micros: number;
}

/** Column values for the limit fields present in `input` (absent fields are left out). */
export function limitColumnUpdates(input: LimitInput): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  if (input.max_budget !== undefined)
    out.max_budget_micros = input.max_budget === null ? null : usdToMicros(input.max_budget);
  for (const field of ['rpm_limit', 'tpm_limit', 'rph_limit', 'rpd_limit', 'tpd_limit'] as const) {
    if (input[field] !== undefined) out[field] = input[field];
  }
  return out;
}

export function limitView(row: LimitColumns) {
  return {
    max_budget: row.max_budget_micros === null ? null : microsToUsd(row.max_budget_micros),
    spend: microsToUsd(row.spend_micros),
    budget_progress:
      row.max_budget_micros === null
        ? null
        : row.max_budget_micros === 0
          ? 1
          : Math.min(1, row.spend_micros / row.max_budget_micros),
    rpm_limit: row.rpm_limit,
    tpm_limit: row.tpm_limit,
    rph_limit: row.rph_limit,
    rpd_limit: row.rpd_limit,
    tpd_limit: row.tpd_limit,
  };
}

/** Asset access of an org (`all`) or a team/key (`inherit`), or a narrowed selection. */
export const restrictAccess = z.object({
  mode: z.literal('restrict'),
  targets: z.array(z.string().min(1)).default([]),
  access_groups: z.array(z.string().min(1)).default([]),
});

/**
 * Characters no name may contain (issue 10 item 15): C0/C1 controls (NUL, CR, LF, TAB, ESC, DEL,
 * ...), bidirectional marks, embeddings, overrides and isolates, and line/paragraph separators.
 * They forge log lines and audit entries and make two names look alike.
 */
const CONTROL_CHARACTERS =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u;
const NO_CONTROL = 'must not contain control or bidirectional-override characters';

export function hasNoControlCharacters(value: string): boolean {
  return !CONTROL_CHARACTERS.test(value);
}

/** A name (org, team, user, service account, key, access group): trimmed, 1–200, no controls. */
export const nameText = z.string().trim().min(1).max(200).refine(hasNoControlCharacters, NO_CONTROL);
/** A tag: trimmed, 1–100, no controls. */
export const tagText = z.string().trim().min(1).max(100).refine(hasNoControlCharacters, NO_CONTROL);
/** An untrimmed name-like value (upstream model, name glob): 1–`max`, no controls. */
export const plainText = (max: number) =>
  z.string().min(1).max(max).refine(hasNoControlCharacters, NO_CONTROL);

export const idParam = z.object({ id: z.string().min(1).max(128) });

export const listQuery = {
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().optional(),
};

export const anyJson = z.any();

/** A required JSON request body validated by `schema`. */
export function json<T extends z.ZodType>(schema: T) {
  return { content: { 'application/json': { schema } }, required: true as const };
}

/** A JSON response (shapes are documented in API.md; bodies are built by the view functions). */
export function ok(description: string) {
  return { description, content: { 'application/json': { schema: anyJson } } };
}

export const security = [{ bearer: [] }];

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export { setClause } from '../src/storage/rows.js';
