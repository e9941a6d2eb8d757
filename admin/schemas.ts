/**
 * Request schemas shared by several routes (zod via @hono/zod-openapi, so the same schema
 * validates the request and documents it in /openapi.json).
 */
import { z } from '@hono/zod-openapi';
import { BUDGET_PERIODS, currentPeriodSpend, periodBounds, type BudgetPeriod } from '../src/budget/period.js';
import { usdToMicros, microsToUsd } from '../src/money.js';

const positiveInt = z.number().int().positive();
const usd = z.number().nonnegative().max(1e9);

/** A limit is enforced (refuses) or shadow (counted and reported, never refusing; issue 14 item 8). */
export const LIMIT_MODES = ['enforce', 'shadow'] as const;
export type LimitMode = (typeof LIMIT_MODES)[number];

/** A limit given as its value, or as `{value, mode}` to choose its mode. */
function modal<T extends z.ZodType>(value: T) {
  return z.union([value, z.object({ value, mode: z.enum(LIMIT_MODES) })]);
}

/** The fields that take a mode, in column order. */
export const MODAL_LIMIT_FIELDS = [
  'max_budget',
  'rpm_limit',
  'tpm_limit',
  'rph_limit',
  'rpd_limit',
  'tpd_limit',
  'max_parallel_requests',
] as const;
export type ModalLimitField = (typeof MODAL_LIMIT_FIELDS)[number];

/**
 * The fields of a team or org that cap its spend and traffic, in the schema's order: the budget,
 * the window limits and parallel cap (each with its mode), the budget period, the soft budget and
 * the access. Who may set them is narrower than who may update the scope (teams.ts, orgs.ts).
 */
export const CAP_FIELDS = [...MODAL_LIMIT_FIELDS, 'budget_period', 'soft_budget', 'access'] as const;

/** The first cap field a create/update body sets, or undefined. */
export function firstCapField(body: Partial<Record<(typeof CAP_FIELDS)[number], unknown>>) {
  return CAP_FIELDS.find((name) => body[name] !== undefined);
}

/**
 * The window limits, budget (with its period and soft budget) and parallel cap, each optional;
 * `null` clears it on PATCH. Budget periods are calendar-aligned in UTC (src/budget/period.ts).
 */
export const limitFields = {
  max_budget: modal(usd).nullable().optional(),
  rpm_limit: modal(positiveInt).nullable().optional(),
  tpm_limit: modal(positiveInt).nullable().optional(),
  rph_limit: modal(positiveInt).nullable().optional(),
  rpd_limit: modal(positiveInt).nullable().optional(),
  tpd_limit: modal(positiveInt).nullable().optional(),
  max_parallel_requests: modal(positiveInt).nullable().optional(),
  budget_period: z
    .enum(BUDGET_PERIODS as [BudgetPeriod, ...BudgetPeriod[]])
    .nullable()
    .optional(),
  soft_budget: usd.nullable().optional(),
};

type Modal = number | { value: number; mode: LimitMode } | null | undefined;

export interface LimitInput {
  max_budget?: Modal;
  rpm_limit?: Modal;
  tpm_limit?: Modal;
  rph_limit?: Modal;
  rpd_limit?: Modal;
  tpd_limit?: Modal;
  max_parallel_requests?: Modal;
  budget_period?: BudgetPeriod | null | undefined;
  soft_budget?: number | null | undefined;
}

export interface LimitColumns {
  max_budget_micros: number | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  rph_limit: number | null;
  rpd_limit: number | null;
  tpd_limit: number | null;
  spend_micros: number;
  budget_period: BudgetPeriod | null;
  soft_budget_micros: number | null;
  period_spend_micros: number;
  period_start: number | null;
  max_parallel_requests: number | null;
  /** JSON `{field: "shadow"}`. */
  limit_modes: string;
}

/** The plain value of a limit given as a value or as `{value, mode}`. */
export function limitValue(given: Modal): number | null | undefined {
  return given === null || given === undefined || typeof given === 'number' ? given : given.value;
}

/** Whether a limit was given as `{value, mode: "shadow"}`. */
export function isShadow(given: Modal): boolean {
  return given !== null && typeof given === 'object' && given.mode === 'shadow';
}

/**
 * Column values for the limit fields present in `input` (absent fields are left out). `modes` is
 * the scope's current `limit_modes`: a field given as a plain value (or null) becomes enforced,
 * one given with a mode takes it; untouched fields keep theirs.
 */
export function limitColumnUpdates(input: LimitInput, modes = '{}'): Record<string, number | string | null> {
  const out: Record<string, number | string | null> = {};
  const max = limitValue(input.max_budget);
  if (max !== undefined) out.max_budget_micros = max === null ? null : usdToMicros(max);
  for (const field of MODAL_LIMIT_FIELDS) {
    if (field === 'max_budget') continue;
    const value = limitValue(input[field]);
    if (value !== undefined) out[field] = value;
  }
  if (input.budget_period !== undefined) out.budget_period = input.budget_period;
  if (input.soft_budget !== undefined)
    out.soft_budget_micros = input.soft_budget === null ? null : usdToMicros(input.soft_budget);
  const next = { ...(JSON.parse(modes) as Record<string, LimitMode>) };
  let changed = false;
  for (const field of MODAL_LIMIT_FIELDS) {
    const given = input[field];
    if (given === undefined) continue;
    changed = true;
    if (isShadow(given)) next[field] = 'shadow';
    else delete next[field];
  }
  if (changed) out.limit_modes = JSON.stringify(next);
  return out;
}

/** The limit, budget and spend fields of a key, team or org view at `now`. */
export function limitView(row: LimitColumns, now: number) {
  const periodSpend = currentPeriodSpend(row.budget_period, row.period_start, row.period_spend_micros, now);
  // The budget limits the current period's spend when a period is set, else lifetime spend.
  const limited = row.budget_period === null ? row.spend_micros : periodSpend;
  return {
    max_budget: row.max_budget_micros === null ? null : microsToUsd(row.max_budget_micros),
    spend: microsToUsd(row.spend_micros),
    budget_progress:
      row.max_budget_micros === null
        ? null
        : row.max_budget_micros === 0
          ? 1
          : Math.min(1, limited / row.max_budget_micros),
    budget_period: row.budget_period,
    period_spend: row.budget_period === null ? null : microsToUsd(periodSpend),
    period_resets_at:
      row.budget_period === null ? null : new Date(periodBounds(row.budget_period, now).endMs).toISOString(),
    soft_budget: row.soft_budget_micros === null ? null : microsToUsd(row.soft_budget_micros),
    rpm_limit: row.rpm_limit,
    tpm_limit: row.tpm_limit,
    rph_limit: row.rph_limit,
    rpd_limit: row.rpd_limit,
    tpd_limit: row.tpd_limit,
    max_parallel_requests: row.max_parallel_requests,
    limit_modes: JSON.parse(row.limit_modes) as Record<string, LimitMode>,
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

/** A JSON response whose shape is in /openapi.json (`schema`, e.g. a registered component). */
export function okShaped<T extends z.ZodType>(description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } };
}

export const security = [{ bearer: [] }];

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export { setClause } from '../src/storage/rows.js';
