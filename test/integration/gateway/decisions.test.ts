/** The gateway's refusals, in DESIGN.md's order, with OpenAI-shaped bodies and x-request-id. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret, hashSecret } from '../../../src/keys/secret.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ cacheMaxKeys: 5 });
});
afterAll(() => h.close());

const chat = (
  headers: Record<string, string>,
  body: unknown = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] },
) =>
  h.app.request('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function expectError(response: Response, status: number, code: string, param: string | null = null) {
  expect(response.status).toBe(status);
  expect(response.headers.get('x-request-id')).toBeTruthy();
  const body = (await response.json()) as { error: Record<string, unknown> };
  expect(body.error).toMatchObject({ code, param });
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.type).toBe('string');
  expect(body.error).not.toHaveProperty('request_id');
}

describe('gateway decisions', () => {
  it('every response carries x-request-id; a sane client id is kept, an unsafe one replaced', async () => {
    const kept = await chat({ 'x-request-id': 'client-abc.123' });
    expect(kept.headers.get('x-request-id')).toBe('client-abc.123');
    const replaced = await chat({ 'x-request-id': 'bad id\twith spaces' });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await h.app.request('/healthz')).headers.get('x-request-id')).toBeTruthy();
  });

  it('no key → 401 missing_api_key', async () => {
    await expectError(await chat({}), 401, 'missing_api_key');
  });

  it('a malformed or checksum-broken key → 401 invalid_api_key without any lookup', async () => {
    const loads = h.source.loads;
    await expectError(await chat({ authorization: 'Bearer sk-not-ours' }), 401, 'invalid_api_key');
    const secret = generateSecret();
    const flipped = secret.slice(0, 10) + (secret[10] === 'a' ? 'b' : 'a') + secret.slice(11);
    await expectError(await chat({ 'x-api-key': flipped }), 401, 'invalid_api_key');
    expect(h.source.loads).toBe(loads);
  });

  it('a well-formed unknown key → 401 invalid_api_key, looked up once then remembered', async () => {
    const unknown = generateSecret();
    const loads = h.source.loads;
    await expectError(await chat({ authorization: `Bearer ${unknown}` }), 401, 'invalid_api_key');
    await expectError(await chat({ authorization: `Bearer ${unknown}` }), 401, 'invalid_api_key');
    expect(h.source.loads).toBe(loads + 1);
  });

  it('revoked → 401 key_revoked; expired (by the injected clock) → 401 key_expired', async () => {
    await expectError(
      await chat({ authorization: `Bearer ${h.newKey({ status: 'revoked' })}` }),
      401,
      'key_revoked',
    );
    const expiring = h.newKey({ expiresAt: h.clock.now() + 1000 });
    expect((await chat({ authorization: `Bearer ${expiring}` })).status).toBe(200);
    h.clock.advance(1000);
    await expectError(await chat({ authorization: `Bearer ${expiring}` }), 401, 'key_expired');
  });

  it('authentication comes before the body: a bad key with a bad body is still 401', async () => {
    await expectError(await chat({ authorization: 'Bearer nope' }, '{not json'), 401, 'invalid_api_key');
  });

  it('invalid JSON or a missing model → 400 invalid_request', async () => {
    const key = h.newKey();
    await expectError(await chat({ authorization: `Bearer ${key}` }, '{not json'), 400, 'invalid_request');
    await expectError(
      await chat({ authorization: `Bearer ${key}` }, { messages: [] }),
      400,
      'invalid_request',
      'model',
    );
  });

  it('unknown model → 404 model_not_found; a model outside the effective set → 403 model_not_allowed', async () => {
    const key = h.newKey({ effectiveTargets: ['plain'] });
    await expectError(
      await chat({ authorization: `Bearer ${key}` }, { model: 'nope' }),
      404,
      'model_not_found',
      'model',
    );
    await expectError(
      await chat({ authorization: `Bearer ${key}` }, { model: 'gpt-test' }),
      403,
      'model_not_allowed',
      'model',
    );
    expect((await chat({ authorization: `Bearer ${key}` }, { model: 'plain' })).status).toBe(200);
  });

  it('a body over the limit → 413 request_too_large (declared or chunked)', async () => {
    const key = h.newKey();
    const big = JSON.stringify({ model: 'plain', prompt: 'x'.repeat(70 * 1024) });
    await expectError(await chat({ authorization: `Bearer ${key}` }, big), 413, 'request_too_large');
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const response = await fetch(`${h.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    await expectError(response, 413, 'request_too_large');
  });

  it('admission refusals → 429 with param and Retry-After; budgets add x-should-retry: false', async () => {
    const key = h.newKey();
    const headers = {
      limitRequests: 10,
      remainingRequests: 0,
      resetRequestsMs: 1500,
      limitTokens: null,
      remainingTokens: null,
      resetTokensMs: null,
    };
    h.admission.refuse = {
      ok: false,
      code: 'rate_limit_exceeded',
      param: 'team_rpm',
      retryAfterMs: 1500,
      headers,
    };
    try {
      const limited = await chat({ authorization: `Bearer ${key}` });
      await expectError(limited, 429, 'rate_limit_exceeded', 'team_rpm');
      expect(limited.headers.get('retry-after')).toBe('2');
      expect(limited.headers.get('retry-after-ms')).toBe('1500');
      expect(limited.headers.get('x-ratelimit-limit-requests')).toBe('10');
      expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(limited.headers.has('x-ratelimit-limit-tokens')).toBe(false);
      h.admission.refuse = {
        ok: false,
        code: 'budget_exceeded',
        param: 'key_budget',
        retryAfterMs: null,
        headers,
      };
      const broke = await chat({ authorization: `Bearer ${key}` });
      await expectError(broke, 429, 'budget_exceeded', 'key_budget');
      expect(broke.headers.get('x-should-retry')).toBe('false');
      expect(broke.headers.has('retry-after')).toBe(false);
    } finally {
      h.admission.refuse = undefined;
    }
  });

  it('10,000 random well-formed-looking keys cause zero lookups and do not evict a warm key', async () => {
    const warm = h.newKey();
    expect((await chat({ authorization: `Bearer ${warm}` })).status).toBe(200);
    const loads = h.source.loads;
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    for (let i = 0; i < 10_000; i++) {
      let fake = 'kg_';
      for (let j = 0; j < 46; j++) fake += alphabet[Math.floor(Math.random() * 62)];
      const response = await chat({ authorization: `Bearer ${fake}` });
      if (response.status !== 401) throw new Error(`random key answered ${response.status}`);
    }
    expect(h.source.loads).toBe(loads);
    expect(h.keys.lookup(hashSecret(warm))).toBeDefined();
    expect((await chat({ authorization: `Bearer ${warm}` })).status).toBe(200);
    expect(h.source.loads).toBe(loads);
    // Even unknown keys with a valid checksum (they are looked up) cannot push it out of a 5-entry LRU.
    for (let i = 0; i < 200; i++)
      expect((await chat({ authorization: `Bearer ${generateSecret()}` })).status).toBe(401);
    expect(h.keys.peek(hashSecret(warm))).toBeDefined();
  });

  it('admin unreachable: a cached key keeps working, an uncached one → 503 auth_unavailable', async () => {
    const cached = h.newKey();
    const uncached = h.newKey();
    expect((await chat({ authorization: `Bearer ${cached}` })).status).toBe(200);
    h.source.failing = true;
    try {
      h.clock.advance(120_000); // past the TTL: the entry is stale but must still be served
      expect((await chat({ authorization: `Bearer ${cached}` })).status).toBe(200);
      await expectError(await chat({ authorization: `Bearer ${uncached}` }), 503, 'auth_unavailable');
    } finally {
      h.source.failing = false;
    }
  });

  it('GET /v1/models lists the key effective targets in the OpenAI list shape', async () => {
    const key = h.newKey({ effectiveTargets: ['plain', 'gpt-test', 'deleted-target'] });
    const response = await h.app.request('/v1/models', { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; data: { id: string; object: string }[] };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual(['plain', 'gpt-test']);
    expect(body.data[0]!.object).toBe('model');
    await expectError(await h.app.request('/v1/models'), 401, 'missing_api_key');
  });

  it('/metrics exposes outcomes, decision latency and cache counters', async () => {
    const text = await (await h.app.request('/metrics')).text();
    expect(text).toMatch(/keygate_gateway_requests_total\{code="invalid_api_key"\} \d+/);
    expect(text).toMatch(/keygate_gateway_requests_total\{code="ok"\} \d+/);
    expect(text).toContain('keygate_gateway_decision_seconds_bucket');
    expect(text).toMatch(/keygate_gateway_key_cache_hits_total \d+/);
    expect(text).toMatch(/keygate_gateway_key_cache_loads_total \d+/);
    expect(text).toContain('keygate_gateway_invalidation_lag_seconds');
  });
});
