/**
 * The wire contract of `POST /internal/usage` (docs/api.md "Internal API"): `UsageReportSchema`
 * is the documented contract, and what a refusal reports (`param` names the wire field,
 * `items.0.spend_micros`).
 *
 * A gateway's flush carries thousands of items (issue 15: ~3,400 distinct keys per second with
 * random-key traffic), and zod spent ~1.25 µs per item of the admin's CPU on them. `isValidUsageReport`
 * is a hand check of the same rules that only ever says yes to a body the schema accepts
 * unchanged (each rule below is the schema's, or stricter); anything it refuses goes through the
 * schema, so a malformed body gets exactly the schema's error, and a valid body the check is too
 * strict for is still accepted. test/unit/admin/usage-report-schema.test.ts compares the two.
 */
import { z } from 'zod';
import type { UsageItemWire, UsageReportWire } from '../../src/usage/usage-report.js';
import { MAX_REQUEST_TAGS } from '../../src/usage/request-tags.js';
import { TAG } from '../keys/key-input.js';

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Items in one batch at most (the gateway splits larger batches, gateway/usage/usage-reporter.ts). */
export const MAX_USAGE_ITEMS = 100_000;

/**
 * The latest `last_used_at` (epoch ms): the last instant a JS `Date` holds (ECMA-262 time
 * values). A later one was stored as the key's last use, and every view of the key then failed
 * (`toISOString` throws) with 500 for good.
 */
export const MAX_USAGE_TIME_MS = 8.64e15;

/**
 * The counts a batch adds up (per key, team, org and hourly row): their sum over the batch stays
 * a safe integer, or SQLite's SUM overflowed (500) or the stored totals lost precision.
 */
const SUMMED = ['requests', 'input_tokens', 'output_tokens', 'spend_micros'] as const;

/** The first count whose sum over `items` is above 2^53 − 1, if any. */
function oversizedTotal(items: readonly UsageItemWire[]): (typeof SUMMED)[number] | undefined {
  let requests = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  let spendMicros = 0;
  for (const item of items) {
    requests += item.requests;
    inputTokens += item.input_tokens;
    outputTokens += item.output_tokens;
    spendMicros += item.spend_micros;
  }
  const totals = [requests, inputTokens, outputTokens, spendMicros];
  return SUMMED.find((_, i) => totals[i]! > Number.MAX_SAFE_INTEGER);
}

/** The snake_case wire body; `param` in a refusal names the wire field (`items.0.spend_micros`). */
export const UsageReportSchema = z.object({
  gateway_id: z.string().min(1).max(200),
  batch_id: z.string().min(1).max(200),
  batch_seq: count,
  items: z
    .array(
      z.object({
        key_id: z.string().min(1).max(128),
        target: z.string().min(1).max(200),
        requests: count,
        input_tokens: count,
        output_tokens: count,
        spend_micros: count,
        last_used_at: count.max(MAX_USAGE_TIME_MS),
        tags: z.array(z.string().regex(TAG)).max(MAX_REQUEST_TAGS).optional(),
      }),
    )
    .max(MAX_USAGE_ITEMS)
    .superRefine((items, ctx) => {
      const field = oversizedTotal(items);
      if (field !== undefined)
        ctx.addIssue({ code: 'custom', message: `the items' ${field} add up to more than 2^53 - 1` });
    }),
}) satisfies z.ZodType<UsageReportWire>;

/** A plain object (zod's own object test: not null, not an array). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string of `min`..`max` UTF-16 units (zod's `.min().max()` on strings). */
function isString(value: unknown, min: number, max: number): boolean {
  return typeof value === 'string' && value.length >= min && value.length <= max;
}

/** `count`: an integer in [0, 2^53 − 1] (zod's `.int()` is safe integers only). */
function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isValidTags(value: unknown): boolean {
  if (value === undefined) return true;
  if (!Array.isArray(value) || value.length > MAX_REQUEST_TAGS) return false;
  for (const tag of value) if (typeof tag !== 'string' || !TAG.test(tag)) return false;
  return true;
}

/**
 * True only for a body `UsageReportSchema` accepts, whose parse would keep every field the admin
 * reads as it is (zod only drops unknown keys, which `usageReportFromWire` does not read either).
 */
export function isValidUsageReport(body: unknown): body is UsageReportWire {
  if (!isRecord(body)) return false;
  if (!isString(body.gateway_id, 1, 200) || !isString(body.batch_id, 1, 200) || !isCount(body.batch_seq))
    return false;
  const items = body.items;
  if (!Array.isArray(items) || items.length > MAX_USAGE_ITEMS) return false;
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (
      !isRecord(item) ||
      !isString(item.key_id, 1, 128) ||
      !isString(item.target, 1, 200) ||
      !isCount(item.requests) ||
      !isCount(item.input_tokens) ||
      !isCount(item.output_tokens) ||
      !isCount(item.spend_micros) ||
      !isCount(item.last_used_at) ||
      (item.last_used_at as number) > MAX_USAGE_TIME_MS ||
      !isValidTags(item.tags)
    )
      return false;
  }
  return oversizedTotal(items as UsageItemWire[]) === undefined;
}
