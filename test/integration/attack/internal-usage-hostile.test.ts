/**
 * `POST /internal/usage` against hostile or careless gateways (docs/api.md "Internal API"): a
 * refusal is a 400 of the registry with nothing applied, never a 500; what is accepted is counted
 * exactly once and leaves every view of the key readable.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_USAGE_TIME_MS } from '../../../admin/internal/usage-report-schema.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

let w: KeysWorld;
let keyId: string;

beforeEach(async () => {
  w = await keysWorld();
  keyId = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key.id;
});

const AT = Date.UTC(2026, 4, 17, 12);

function item(overrides: Record<string, unknown> = {}) {
  return {
    key_id: keyId,
    target: 'gpt-4o-mini',
    requests: 1,
    input_tokens: 10,
    output_tokens: 5,
    spend_micros: 100,
    last_used_at: AT,
    ...overrides,
  };
}

function report(items: unknown[], batchId = 'b-1') {
  return { gateway_id: 'gw', batch_id: batchId, batch_seq: 1, items };
}

const post = (body: unknown) => w.admin.callInternal('POST', '/internal/usage', body);
const count = (sql: string, ...params: unknown[]) =>
  (w.admin.deps.db.prepare(sql).get(...params) as { n: number }).n;
const teamSpend = () => count('SELECT spend_micros AS n FROM teams WHERE id = ?', w.teamA1);
const hourly = () =>
  w.admin.deps.db
    .prepare('SELECT target, tags, requests, spend_micros FROM usage_hourly WHERE key_id = ? ORDER BY target')
    .all(keyId);

describe('POST /internal/usage from a hostile gateway', () => {
  it.each(['spend_micros', 'requests', 'input_tokens', 'output_tokens'])(
    'items whose %s adds up to more than 2^53 - 1 → 400 invalid_request on items, nothing applied (was a 500 or totals past 2^53)',
    async (field) => {
      const items = Array.from({ length: 1100 }, () => item({ [field]: Number.MAX_SAFE_INTEGER }));
      const res = await post(report(items));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_request', param: 'items' });
      expect(res.body.error.message).toContain(field);
      expect(count('SELECT COUNT(*) AS n FROM usage_batches')).toBe(0);
      expect(teamSpend()).toBe(0);
      expect(hourly()).toEqual([]);
    },
  );

  it("a last_used_at past the last Date → 400 on the item; the latest one is accepted and the key's views still answer", async () => {
    const late = await post(report([item({ last_used_at: MAX_USAGE_TIME_MS + 1 })]));
    expect(late.status).toBe(400);
    expect(late.body.error).toMatchObject({ code: 'invalid_request', param: 'items.0.last_used_at' });
    expect(count('SELECT COUNT(*) AS n FROM usage_batches')).toBe(0);

    expect((await post(report([item({ last_used_at: MAX_USAGE_TIME_MS })]))).body).toEqual({ applied: true });
    const view = await w.admin.call('GET', `/v1/keys/${keyId}`);
    expect(view.status).toBe(200);
    expect(view.body.last_used_at).toBe(new Date(MAX_USAGE_TIME_MS).toISOString());
    expect((await w.admin.call('GET', `/v1/keys?team_id=${w.teamA1}`)).status).toBe(200);
    expect((await w.admin.call('GET', '/v1/usage?group_by=hour')).status).toBe(200);
  });

  it('1,000 copies of one item count 1,000 times, once: one hourly row, and the batch resent (even with other items) adds nothing', async () => {
    const copies = Array.from({ length: 1000 }, () => item({ tags: ['b', 'a', 'a'] }));
    expect((await post(report(copies))).body).toEqual({ applied: true });
    expect((await post(report([item({ spend_micros: 999_999 })]))).body).toEqual({ applied: false });
    expect(teamSpend()).toBe(100_000);
    expect(hourly()).toEqual([
      { target: 'gpt-4o-mini', tags: '["a","b"]', requests: 1000, spend_micros: 100_000 },
    ]);
  });

  it("an item from a gateway whose clock runs 40 days ahead counts in the admin's current period: the month's spend is not started over", async () => {
    w.admin.deps.db
      .prepare("UPDATE teams SET budget_period = 'month', max_budget_micros = 1000000 WHERE id = ?")
      .run(w.teamA1);
    const now = w.admin.clock.now();
    const period = () =>
      w.admin.deps.db
        .prepare('SELECT period_spend_micros AS spend, period_start AS start FROM teams WHERE id = ?')
        .get(w.teamA1) as { spend: number; start: number };
    await post(report([item({ spend_micros: 900_000, last_used_at: now })], 'b-now'));
    const start = period().start;
    await post(report([item({ spend_micros: 1, last_used_at: now + 40 * 86_400_000 })], 'b-ahead'));
    await post(report([item({ spend_micros: 500_000, last_used_at: now })], 'b-now-2'));
    expect(period()).toEqual({ spend: 1_400_001, start });
    const policy = await w.admin.callInternal(
      'GET',
      `/internal/keys/${w.admin.deps.db.prepare('SELECT token_hash AS h FROM keys WHERE id = ?').pluck().get(keyId) as string}`,
    );
    expect(policy.body.team).toMatchObject({ periodSpendMicros: 1_400_001, periodStartMs: start });
  });

  it('targets with NUL, control and non-BMP characters are stored as sent and listed in JSON and CSV', async () => {
    const odd = ['a\u0000b', 'é🙂\u202e', '\n,"x"'];
    const res = await post(report(odd.map((target) => item({ target }))));
    expect(res.body).toEqual({ applied: true });
    const json = await w.admin.call('GET', '/v1/usage?group_by=target');
    expect(json.status).toBe(200);
    expect(json.body.data.map((row: { target: string }) => row.target).sort()).toEqual([...odd].sort());
    const csv = await w.admin.call('GET', '/v1/usage?group_by=target&format=csv');
    expect(csv.status).toBe(200);
  });
});
