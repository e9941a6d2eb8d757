/**
 * Issue 14 at the gateway over HTTP (real sockets, real mock upstream, ManualClock): parallel caps
 * released on every exit path, key_blocked, overrides lapsing on the clock, budget periods
 * resetting exactly at the UTC boundary without any load from the admin plane, shadow limits
 * reported and never refusing, request tags, and the gateway's /internal/explain.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.js';
import { startPolicyGateway, refusalOf, type PolicyGateway } from './policy-gateway.js';

// Tuesday 2026-03-03 10:00 UTC: well inside its day, week (from Monday 03-02) and month.
const START = Date.UTC(2026, 2, 3, 10);
let g: PolicyGateway;
beforeEach(async () => {
  g = await startPolicyGateway(START);
});
afterEach(() => g.close());

async function inFlight(hash: string, param: string): Promise<number> {
  const res = await fetch(`${g.url}/internal/explain?token_hash=${hash}`, {
    headers: { authorization: await g.tokens.authorizationHeader() },
  });
  const body = (await res.json()) as { windows: { param: string; used: number }[] };
  return body.windows.find((w) => w.param === param)?.used ?? -1;
}

describe('max_parallel_requests', () => {
  it('a request over the key cap → 429 rate_limit_exceeded key_parallel; a client abort releases it', async () => {
    const { secret, hash } = g.newKey({ key: { maxParallel: 2 } });
    const aborts = [new AbortController(), new AbortController()];
    const held = aborts.map((a) => g.call(secret, 'stalling', { signal: a.signal }).catch(() => undefined));
    await eventually(async () => (await inFlight(hash, 'key_parallel')) === 2, { timeoutMs: 5_000 });
    expect(await refusalOf(await g.call(secret))).toEqual({
      status: 429,
      code: 'rate_limit_exceeded',
      param: 'key_parallel',
    });
    for (const a of aborts) a.abort();
    await Promise.all(held);
    await eventually(async () => (await inFlight(hash, 'key_parallel')) === 0, { timeoutMs: 5_000 });
    expect((await g.call(secret)).status).toBe(200);
  });

  it('the team cap counts every key of the team → param team_parallel', async () => {
    const a = g.newKey({ team: { maxParallel: 1 }, teamId: 'team_par' });
    const b = g.newKey({ team: { maxParallel: 1 }, teamId: 'team_par' });
    const abort = new AbortController();
    const held = g.call(a.secret, 'stalling', { signal: abort.signal }).catch(() => undefined);
    await eventually(async () => (await inFlight(a.hash, 'team_parallel')) === 1, { timeoutMs: 5_000 });
    expect(await refusalOf(await g.call(b.secret))).toMatchObject({ status: 429, param: 'team_parallel' });
    abort.abort();
    await held;
    await eventually(async () => (await inFlight(a.hash, 'team_parallel')) === 0, { timeoutMs: 5_000 });
    expect((await g.call(b.secret)).status).toBe(200);
  });

  it('released on success, on upstream failure and on a thrown error: cap 1 admits each next request', async () => {
    const { secret, hash } = g.newKey({ key: { maxParallel: 1 } });
    for (let i = 0; i < 3; i++) expect((await g.call(secret)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await g.call(secret, 'failing')).status).toBe(503);
    for (let i = 0; i < 3; i++) {
      expect(await refusalOf(await g.call(secret, 'exploding'))).toMatchObject({
        status: 500,
        code: 'internal_error',
      });
    }
    await eventually(async () => (await inFlight(hash, 'key_parallel')) === 0, { timeoutMs: 5_000 });
    expect((await g.call(secret)).status).toBe(200);
  });

  it('a stream holds its slot until its last byte', async () => {
    const { secret, hash } = g.newKey({ key: { maxParallel: 1 } });
    const streaming = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        'x-mock-chunks': '4',
        'x-mock-chunk-delay-ms': '150',
      },
      body: JSON.stringify({ model: 'plain', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(streaming.status).toBe(200);
    const reader = streaming.body!.getReader();
    await reader.read(); // first bytes arrived; the stream is still open
    expect(await refusalOf(await g.call(secret))).toMatchObject({ status: 429, param: 'key_parallel' });
    while (!(await reader.read()).done) {
      // drain to the last byte
    }
    await eventually(async () => (await inFlight(hash, 'key_parallel')) === 0, { timeoutMs: 5_000 });
    expect((await g.call(secret)).status).toBe(200);
  });
});

describe('blocked keys', () => {
  it('a blocked key → 401 key_blocked (distinct from key_revoked)', async () => {
    const blocked = g.newKey({ policy: { status: 'blocked' } });
    const revoked = g.newKey({ policy: { status: 'revoked' } });
    expect(await refusalOf(await g.call(blocked.secret))).toMatchObject({ status: 401, code: 'key_blocked' });
    expect(await refusalOf(await g.call(revoked.secret))).toMatchObject({ status: 401, code: 'key_revoked' });
  });
});

describe('temporary overrides', () => {
  it('an override applies until expires_at and lapses by itself on the clock, with no load', async () => {
    const { secret, hash } = g.newKey();
    const base = g.source.policies.get(hash)!;
    g.source.policies.set(hash, {
      ...base,
      key: { ...base.key, limits: { ...base.key.limits, rpd: 100 } },
      overrides: [{ id: 'ovr_1', limits: { ...base.key.limits, rpd: 1 }, expiresAt: START + 600_000 }],
    });
    expect((await g.call(secret)).status).toBe(200);
    expect(await refusalOf(await g.call(secret))).toMatchObject({ status: 429, param: 'key_rpd' });
    const loads = g.source.loads;
    g.clock.set(START + 599_999);
    expect((await g.call(secret)).status).toBe(429);
    g.clock.set(START + 600_000);
    expect((await g.call(secret)).status).toBe(200);
    expect(g.source.loads).toBe(loads);
  });
});

describe('budget periods', () => {
  it('a daily budget refuses within the day and admits again exactly at 00:00 UTC, with no load', async () => {
    // "hi" + max_tokens 9 at 1/2 µUSD per token: estimate 19 µUSD, real cost ~17.
    const { secret } = g.newKey({ key: { maxBudgetMicros: 40, budgetPeriod: 'day' } });
    let admitted = 0;
    while ((await g.call(secret)).status === 200) admitted++;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(await refusalOf(await g.call(secret))).toMatchObject({ status: 429, param: 'key_budget' });
    const loads = g.source.loads;
    const midnight = Date.UTC(2026, 2, 4);
    g.clock.set(midnight - 1);
    expect((await g.call(secret)).status).toBe(429);
    g.clock.set(midnight);
    expect((await g.call(secret)).status).toBe(200);
    expect(g.source.loads).toBe(loads);
  });

  it('a monthly team budget resets on the 1st, a lifetime key budget never does', async () => {
    const monthly = g.newKey({ team: { maxBudgetMicros: 40, budgetPeriod: 'month' }, teamId: 'team_month' });
    while ((await g.call(monthly.secret)).status === 200);
    expect(await refusalOf(await g.call(monthly.secret))).toMatchObject({ param: 'team_budget' });
    const lifetime = g.newKey({ key: { maxBudgetMicros: 40 } });
    while ((await g.call(lifetime.secret)).status === 200);
    g.clock.set(Date.UTC(2026, 3, 1));
    expect((await g.call(monthly.secret)).status).toBe(200);
    expect(await refusalOf(await g.call(lifetime.secret))).toMatchObject({ param: 'key_budget' });
  });
});

describe('estimates', () => {
  it('a request asking for n completions reserves max_tokens for each: refused when they could overrun the budget', async () => {
    // "hi" + max_tokens 9 at 1 / 2 µUSD per input / output token: 19 µUSD for one completion,
    // 181 for ten (the upstream bills all ten).
    const { secret } = g.newKey({ key: { maxBudgetMicros: 100 } });
    const ask = (extra: Record<string, unknown>) =>
      fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'plain',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 9,
          ...extra,
        }),
      });
    expect(await refusalOf(await ask({ n: 10 }))).toEqual({
      status: 429,
      code: 'budget_exceeded',
      param: 'key_budget',
    });
    expect((await ask({ n: 2 })).status).toBe(200);
  });
});

describe('shadow limits', () => {
  it('a shadow rpm never refuses; requests over it carry x-keygate-shadow-refused and are counted in metrics', async () => {
    const { secret } = g.newKey({ key: { rpm: 1, shadow: 2 /* SHADOW_BITS.rpm */ } });
    const responses = [await g.call(secret), await g.call(secret), await g.call(secret)];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(responses.map((r) => r.headers.get('x-keygate-shadow-refused'))).toEqual([
      null,
      'key_rpm',
      'key_rpm',
    ]);
    const metrics = await g.metrics.registry.metrics();
    expect(metrics).toContain('keygate_shadow_refusals_total{scope="key",limit="rpm"} 2');
  });

  it('a shadow budget and a shadow parallel cap never refuse either', async () => {
    const { secret } = g.newKey({ key: { maxBudgetMicros: 1, maxParallel: 1, shadow: 1 | 64 } });
    const res = await g.call(secret);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-keygate-shadow-refused')).toBe('key_budget');
  });
});

describe('request tags', () => {
  it('x-keygate-tags is refused unless the key allows it, bounded, and recorded with the usage', async () => {
    const closed = g.newKey();
    expect(
      await refusalOf(await g.call(closed.secret, 'plain', { headers: { 'x-keygate-tags': 'a' } })),
    ).toMatchObject({ status: 400, param: 'x-keygate-tags' });
    const open = g.newKey({ policy: { allowRequestTags: true } });
    const tooMany = Array.from({ length: 11 }, (_, i) => `t${i}`).join(',');
    expect((await g.call(open.secret, 'plain', { headers: { 'x-keygate-tags': tooMany } })).status).toBe(400);
    expect((await g.call(open.secret, 'plain', { headers: { 'x-keygate-tags': 'b, a ,a' } })).status).toBe(
      200,
    );
    await eventually(() => g.usage.length > 0, { timeoutMs: 5_000 });
    expect(g.usage.at(-1)!.tags).toEqual(['a', 'b']);
  });
});
