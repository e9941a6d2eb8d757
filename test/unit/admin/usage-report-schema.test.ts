/**
 * The hand check of `POST /internal/usage` bodies (admin/internal/usage-report-schema.ts) against
 * the zod schema it stands in for: it must never accept a body the schema refuses (the route would
 * apply a malformed batch instead of answering the schema's error), and it must accept the valid
 * bodies gateways send (or it saves nothing).
 */
import { describe, expect, it } from 'vitest';
import {
  isValidUsageReport,
  MAX_USAGE_ITEMS,
  MAX_USAGE_TIME_MS,
  UsageReportSchema,
} from '../../../admin/internal/usage-report-schema.js';

const item = {
  key_id: 'key_0123456789abcdef01234567',
  target: 'gpt-4o-mini',
  requests: 3,
  input_tokens: 12,
  output_tokens: 30,
  spend_micros: 42,
  last_used_at: 1_700_000_000_000,
};
const body = {
  gateway_id: 'gw-1',
  batch_id: 'b-1',
  batch_seq: 7,
  items: [item, { ...item, tags: ['a', 'team:x'] }],
};

const strings = (max: number) => [
  '',
  'x',
  'x'.repeat(max),
  'x'.repeat(max + 1),
  1,
  null,
  undefined,
  ['x'],
  {},
];
const counts = [
  0,
  1,
  -0,
  -1,
  1.5,
  2 ** 53 - 1,
  2 ** 53,
  Number.MAX_VALUE,
  Infinity,
  NaN,
  '1',
  null,
  undefined,
  true,
  [1],
];
const tags = [
  undefined,
  [],
  ['a'],
  ['a.b:c-d_e'],
  ['bad tag'],
  [''],
  ['x'.repeat(64)],
  ['x'.repeat(65)],
  [1],
  'a',
  null,
  Array.from({ length: 10 }, (_, i) => `t${i}`),
  Array.from({ length: 11 }, (_, i) => `t${i}`),
  ['a\n'],
];

/** Every body of one changed field (top level, or the first item's), plus whole-body shapes. */
function variants(): unknown[] {
  const out: unknown[] = [body, null, [], 'body', 1, {}, { ...body, extra: 1 }];
  const top: Record<string, unknown[]> = {
    gateway_id: strings(200),
    batch_id: strings(200),
    batch_seq: counts,
    items: [[], null, 'x', {}, [null], [[]], ['x'], [item, 1]],
  };
  for (const [field, values] of Object.entries(top))
    for (const value of values) out.push({ ...body, [field]: value });
  const fields: Record<string, unknown[]> = {
    key_id: strings(128),
    target: strings(200),
    requests: counts,
    input_tokens: counts,
    output_tokens: counts,
    spend_micros: counts,
    last_used_at: [...counts, MAX_USAGE_TIME_MS, MAX_USAGE_TIME_MS + 1],
    tags,
    extra: ['anything'],
  };
  for (const [field, values] of Object.entries(fields)) {
    for (const value of values) {
      out.push({ ...body, items: [{ ...item, [field]: value }] });
      out.push({ ...body, items: [item, item, { ...item, [field]: value }] });
      const without: Record<string, unknown> = { ...item };
      delete without[field];
      out.push({ ...body, items: [without] });
    }
  }
  // Counts whose sum over the items passes 2^53 - 1, or just reaches it.
  const half = 2 ** 52;
  for (const field of ['requests', 'input_tokens', 'output_tokens', 'spend_micros']) {
    out.push({
      ...body,
      items: [
        { ...item, [field]: half },
        { ...item, [field]: half },
      ],
    });
    out.push({
      ...body,
      items: [
        { ...item, [field]: half },
        { ...item, [field]: half - 1 },
      ],
    });
  }
  return out;
}

describe('isValidUsageReport', () => {
  it('accepts a body only when the zod schema accepts it, and every valid variant', () => {
    let accepted = 0;
    for (const variant of variants()) {
      const zod = UsageReportSchema.safeParse(variant).success;
      const hand = isValidUsageReport(variant);
      expect({ variant, hand }).toEqual({ variant, hand: zod });
      if (hand) accepted++;
    }
    expect(accepted).toBeGreaterThan(20);
  });

  it('refuses more than the maximum of items, like the schema', () => {
    const items = new Array(MAX_USAGE_ITEMS + 1).fill(item);
    expect(isValidUsageReport({ ...body, items })).toBe(false);
    expect(UsageReportSchema.safeParse({ ...body, items }).success).toBe(false);
    expect(isValidUsageReport({ ...body, items: items.slice(1) })).toBe(true);
  });
});
