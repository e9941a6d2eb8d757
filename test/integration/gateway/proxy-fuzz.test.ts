/**
 * Issue 10, "done means": fast-check over the gateway's proxy routes. Arbitrary bodies (any JSON,
 * chat-shaped objects with hostile field values, broken JSON, deep nesting, duplicate keys),
 * valid and invalid keys: never a 5xx, every refusal in the documented error shape with an
 * x-request-id, and afterwards every reservation is back to zero and no budget figure is
 * non-finite. Real LimitsAdmission and MemorySpendStore, real mock upstream.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { NO_LIMITS } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { ERROR_REGISTRY } from '../../../src/errors/registry.js';
import { ENDPOINTS } from '../../../gateway/endpoints.js';
import { eventually } from '../../helpers/eventually.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

const RUNS = 5000;
const spend = new MemorySpendStore();
const limits = new LimitsAdmission({ spend });
let h: Harness;
let keys: string[];

beforeAll(async () => {
  h = await startHarness({ admission: limits });
  const scoped = (budget: number | null) => ({
    team: {
      id: 'team_fuzz',
      limits: { ...NO_LIMITS, maxBudgetMicros: budget, rpm: 1_000_000 },
      spendMicros: 0,
    },
    org: { id: 'org_fuzz', limits: { ...NO_LIMITS, tpd: 1_000_000_000 }, spendMicros: 0 },
  });
  keys = [h.newKey(scoped(null)), h.newKey(scoped(50_000_000)), h.newKey(scoped(5_000))];
});
afterAll(() => h.close());

const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(1e308, -1, 0, 450_000, 2 ** 53 + 1),
);
const anything = fc.oneof(fc.jsonValue(), hostileNumber, fc.string());
const chatLike = fc.record(
  {
    model: fc.oneof(fc.constantFrom('plain', 'gpt-test', 'unknown', ''), anything),
    max_tokens: fc.oneof(hostileNumber, anything),
    max_completion_tokens: hostileNumber,
    max_output_tokens: hostileNumber,
    stream: fc.oneof(fc.boolean(), anything),
    stream_options: fc.oneof(fc.record({ include_usage: fc.oneof(fc.boolean(), anything) }), anything),
    messages: fc.oneof(
      fc.array(
        fc.record({ role: fc.constantFrom('user', 'system'), content: fc.oneof(fc.string(), anything) }),
      ),
      anything,
    ),
    prompt: anything,
    input: anything,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 5, arbitrary: chatLike.map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string() },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 3000 })
      .map((depth) => `{"model":"plain","x":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('model', 'max_tokens', 'stream', 'messages')
      .map((key) => `{"model":"plain","${key}":1,"${key}":2,"messages":[]}`),
  },
);

describe('gateway proxy fuzz', () => {
  it(`${RUNS} arbitrary requests: no 5xx, documented error shape, no reservation left, all figures finite`, async () => {
    const codes = new Set(Object.keys(ERROR_REGISTRY));
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS.map((e) => e.path)),
        fc.constantFrom(0, 0, 1, 1, 2, -1),
        body,
        async (path, keyIndex, payload) => {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (keyIndex >= 0) headers.authorization = `Bearer ${keys[keyIndex]}`;
          else headers.authorization = 'Bearer kg_not_a_key';
          const response = await h.app.request(path, { method: 'POST', headers, body: payload });
          const text = await response.text();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          expect(response.status, text.slice(0, 300)).toBeLessThan(500);
          expect(response.headers.get('x-request-id')).toBeTruthy();
          if (response.status >= 400) {
            const error = (JSON.parse(text) as { error: Record<string, unknown> }).error;
            expect(codes.has(error.code as string), String(error.code)).toBe(true);
            expect(typeof error.message).toBe('string');
            expect(typeof error.type).toBe('string');
            expect(error).toHaveProperty('param');
            expect(response.headers.get('x-should-retry')).toMatch(/^(true|false)$/);
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Not vacuous: a good share reached the upstream, and the budgets refused some.
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(RUNS / 40);
    expect(statuses.get(429) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(0);
    await eventually(() => limits.inFlight === 0, { what: 'every ticket ended' });
    for (const [scope, id] of [
      ['team', 'team_fuzz'],
      ['org', 'org_fuzz'],
    ] as const) {
      const view = spend.spendOf(scope, id);
      expect(view?.reservedMicros ?? 0).toBe(0);
      expect(Number.isFinite(view?.spendMicros ?? 0)).toBe(true);
    }
  }, 180_000);
});
