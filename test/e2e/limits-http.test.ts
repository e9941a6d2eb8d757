/**
 * Exact limits through real processes (admin plane, gateway, mock upstream on 127.0.0.1): what a
 * client sees over HTTP. Windows here run on the real clock, so each test keeps its requests
 * inside one minute (see `awayFromMinuteBoundary`); boundary resets with a moved clock are unit
 * tests (test/unit/ratelimit). It is one of the timed end-to-end files (TIMED_E2E in
 * vitest.config.ts: run one at a time, last) because real processes on the real clock are
 * timing-bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryIfPortTaken } from '../helpers/free-ports.js';
import { freePort, spawnTs, type Spawned } from '../helpers/processes.js';
import { INTERNAL_SECRET, msUntil, seed, startStack, type Stack } from '../helpers/e2e-stack.js';

let stack: Stack;
let seeds = 0;

beforeAll(async () => {
  stack = await startStack({ push: true });
}, 60_000);
afterAll(() => stack?.stop());

interface World {
  org: { id: string };
  team: { id: string };
  model: string;
  createKey(extra?: Record<string, unknown>): Promise<{ key: { id: string }; secret: string }>;
}

/**
 * A fresh org + team + target, so every test counts on its own windows; returns once the gateway
 * has loaded the new target (a probe key calls it before any limit is configured, and windows
 * that are not configured count nothing).
 */
async function world(): Promise<World> {
  const data = await seed(stack, `lim${++seeds}`);
  const probe = await data.createKey();
  await ready(probe.secret, data.target.name);
  return { org: data.org, team: data.team, model: data.target.name, createKey: data.createKey };
}

async function patch(path: string, body: Record<string, unknown>): Promise<void> {
  const result = await stack.api('PATCH', path, body);
  expect(result.status, JSON.stringify(result.body)).toBe(200);
}

/** "hi" is 1 estimated prompt token; the mock upstream answers 8 completion tokens. */
function call(
  secret: string,
  model: string,
  maxTokens = 9,
  gatewayUrl = stack.gatewayUrl,
): Promise<Response> {
  return fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens }),
  });
}

async function outcome(
  response: Response,
): Promise<{ status: number; param: string | null; code: string | null; headers: Headers }> {
  const body = (await response.json()) as { error?: { param: string | null; code: string } };
  return {
    status: response.status,
    param: body.error?.param ?? null,
    code: body.error?.code ?? null,
    headers: response.headers,
  };
}

/** Waits until the first successful call (the gateway has loaded the target catalog change). */
async function ready(secret: string, model: string): Promise<void> {
  await msUntil(
    Date.now(),
    () => call(secret, model),
    (status) => status === 200,
    5_000,
  );
}

/** Real-clock windows: start a burst with at least 15 s left in the current minute. */
async function awayFromMinuteBoundary(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 50));
}

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MINUTE = 60_000;
const resetOf = { rpm: MINUTE, tpm: MINUTE, rph: HOUR, rpd: DAY, tpd: DAY } as const;

describe('limits over HTTP', () => {
  it('a 200-concurrent burst against rpm_limit 50 admits exactly 50; the others get 429 key_rpm with retry-after', async () => {
    const w = await world();
    const { secret } = await w.createKey({ rpm_limit: 50 });
    await awayFromMinuteBoundary();
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 200 }, () => call(secret, w.model).then(outcome)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(50);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(150);
    const toReset = MINUTE - (started % MINUTE);
    for (const r of refused) {
      expect(r).toMatchObject({ code: 'rate_limit_exceeded', param: 'key_rpm' });
      const retryAfterMs = Number(r.headers.get('retry-after-ms'));
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(Math.abs(retryAfterMs - toReset)).toBeLessThan(5_000);
      expect(r.headers.get('retry-after')).toBe(String(Math.ceil(retryAfterMs / 1000)));
      expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(r.headers.get('x-ratelimit-limit-requests')).toBe('50');
    }
  });

  const pairs = (['key', 'team', 'org'] as const).flatMap((scope) =>
    (['rpm', 'rph', 'rpd', 'tpm', 'tpd'] as const).map((window) => [scope, window] as const),
  );
  it.each(pairs)(
    '%s %s: the N+1-th request gets 429 with param %s_%s and retry-after to the window reset',
    async (scope, window) => {
      const w = await world();
      // Request windows: 2 requests. Token windows: each request reserves 1 + 9 = 10 tokens and
      // settles to 1 + 8 = 9, so a limit of 20 admits 2 and refuses the third.
      const limits = { [`${window}_limit`]: window.startsWith('r') ? 2 : 20 };
      if (scope === 'team') await patch(`/v1/teams/${w.team.id}`, limits);
      if (scope === 'org') await patch(`/v1/orgs/${w.org.id}`, limits);
      const { secret } = await w.createKey(scope === 'key' ? limits : {});
      await awayFromMinuteBoundary();
      const first = await outcome(await call(secret, w.model));
      expect(first.status).toBe(200);
      expect((await outcome(await call(secret, w.model))).status).toBe(200);
      const now = Date.now();
      const refused = await outcome(await call(secret, w.model));
      expect(refused).toMatchObject({
        status: 429,
        code: 'rate_limit_exceeded',
        param: `${scope}_${window}`,
      });
      const toReset = resetOf[window] - (now % resetOf[window]);
      expect(Math.abs(Number(refused.headers.get('retry-after-ms')) - toReset)).toBeLessThan(5_000);
      expect(refused.headers.get('retry-after')).toBe(
        String(Math.ceil(Number(refused.headers.get('retry-after-ms')) / 1000)),
      );
    },
  );

  it('a 429 from the hour window leaves the minute window unchanged, and a limit change keeps the counts', async () => {
    const w = await world();
    const { key, secret } = await w.createKey({ rpm_limit: 10, rph_limit: 2 });
    await awayFromMinuteBoundary();
    expect((await call(secret, w.model)).status).toBe(200);
    expect((await call(secret, w.model)).status).toBe(200);
    for (let i = 0; i < 3; i++)
      expect(await outcome(await call(secret, w.model))).toMatchObject({ status: 429, param: 'key_rph' });
    // Lift the hour limit: the minute window must show the 2 admitted requests only, not the 3 refused.
    await patch(`/v1/keys/${key.id}`, { rph_limit: null });
    await ready(secret, w.model); // the 3rd admitted request
    const next = await call(secret, w.model);
    expect(next.status).toBe(200);
    expect(next.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(next.headers.get('x-ratelimit-remaining-requests')).toBe('6');
  });

  it('a team limit is shared by two keys of the team', async () => {
    const w = await world();
    await patch(`/v1/teams/${w.team.id}`, { rpm_limit: 3 });
    const a = await w.createKey();
    const b = await w.createKey();
    await awayFromMinuteBoundary();
    expect((await call(a.secret, w.model)).status).toBe(200);
    expect((await call(a.secret, w.model)).status).toBe(200);
    expect((await call(b.secret, w.model)).status).toBe(200);
    expect(await outcome(await call(b.secret, w.model))).toMatchObject({ status: 429, param: 'team_rpm' });
    expect(await outcome(await call(a.secret, w.model))).toMatchObject({ status: 429, param: 'team_rpm' });
  });

  it('a $0.01 budget with 100 concurrent requests is never exceeded by the settled spend, persisted or reloaded', async () => {
    const w = await world();
    // 100 micro-USD per token both ways: estimate 1×100 + 20×100 = 2_100, real 1×100 + 8×100 = 900.
    const target = await stack.api('POST', '/v1/targets', {
      name: `lim${seeds}-priced`,
      upstream: { base_url: `${stack.mockUrl}/v1`, model: 'mock-model', api_key_env: 'E2E_PROVIDER_KEY' },
      pricing: { input_per_mtok: 100, output_per_mtok: 100 },
    });
    expect(target.status).toBe(201);
    const model = target.body.name as string;
    const { key, secret } = await w.createKey({ max_budget: 0.01 });
    await msUntil(
      Date.now(),
      () => call(secret, model, 20),
      (status) => status === 200,
      5_000,
    );
    let admitted = 1;

    const burst = await Promise.all(Array.from({ length: 100 }, () => call(secret, model, 20).then(outcome)));
    admitted += burst.filter((r) => r.status === 200).length;
    for (const r of burst.filter((r) => r.status !== 200)) {
      expect(r).toMatchObject({ status: 429, code: 'budget_exceeded', param: 'key_budget' });
      expect(r.headers.get('x-should-retry')).toBe('false');
    }
    // Keep going until the budget refuses even with nothing in flight.
    for (;;) {
      const r = await outcome(await call(secret, model, 20));
      if (r.status !== 200) {
        expect(r).toMatchObject({ status: 429, param: 'key_budget' });
        break;
      }
      admitted++;
    }
    // 9 × 900 = 8_100 ≤ 10_000 and 8_100 + 2_100 > 10_000: exactly 9 fit, whatever the concurrency.
    expect(admitted).toBe(9);

    // The admin plane receives the same spend (usage batches, flushed every 100 ms).
    await msUntil(
      Date.now(),
      () =>
        stack.api('GET', `/v1/keys/${key.id}`, undefined).then((r) => new Response(JSON.stringify(r.body))),
      (_s, body) => body.spend === 0.0081,
      5_000,
    );

    // A gateway started now loads the key with its persisted spend and refuses as well.
    let url = '';
    let fresh: Spawned | undefined;
    try {
      fresh = await retryIfPortTaken(async () => {
        const port = await freePort();
        url = `http://127.0.0.1:${port}`;
        return spawnTs('gateway/main.ts', {
          url,
          readyPath: '/readyz',
          env: {
            KEYGATE_GATEWAY_PORT: String(port),
            KEYGATE_ADMIN_URL: stack.adminUrl,
            KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
            E2E_PROVIDER_KEY: 'sk-e2e-provider',
          },
        });
      });
      await msUntil(
        Date.now(),
        () => fetch(`${url}/readyz`),
        (status) => status === 200,
        10_000,
      );
      expect(await outcome(await call(secret, model, 20, url))).toMatchObject({
        status: 429,
        param: 'key_budget',
      });
      // A request small enough for the remaining 1_900 micro-USD (1×100 + 10×100 = 1_100) passes.
      expect((await call(secret, model, 10, url)).status).toBe(200);
    } finally {
      await fresh?.stop();
    }
  });
});
