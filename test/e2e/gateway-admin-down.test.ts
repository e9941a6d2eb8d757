/**
 * The admin plane goes away (kill -9) and comes back, with real processes: cached keys keep
 * working, unknown ones are refused with 503 auth_unavailable, and the usage recorded meanwhile
 * reaches the admin plane once it is back, exactly once (retried batches are idempotent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msUntil, seed, startSeededStack, type Stack } from '../helpers/e2e-stack.js';
import { eventually } from '../helpers/eventually.js';

let stack: Stack;
let data: Awaited<ReturnType<typeof seed>>;
beforeAll(async () => {
  ({ stack, data } = await startSeededStack(
    { push: true, gatewayEnv: { KEYGATE_RESYNC_INTERVAL_MS: '200' } },
    'down',
  ));
}, 120_000);
afterAll(() => stack?.stop());

const call = (secret: string) => stack.chat(secret, data.target.name);

describe('gateway with the admin plane down', () => {
  it('cached keys keep working, uncached ones get 503 auth_unavailable, usage is kept and later applied once', async () => {
    const cached = await data.createKey();
    const uncached = await data.createKey();
    expect((await call(cached.secret)).status).toBe(200);
    // Let the first request's usage reach the admin plane, so the rest is what was kept.
    await msUntil(
      Date.now(),
      async () => new Response(JSON.stringify((await stack.api('GET', `/v1/keys/${cached.key.id}`)).body)),
      (_s, body) => body.spend > 0,
    );

    await stack.killAdmin();
    for (let i = 0; i < 5; i++) {
      const response = await call(cached.secret);
      expect(response.status, await response.text()).toBe(200);
    }
    const refused = await call(uncached.secret);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as any).error.code).toBe('auth_unavailable');
    const ready = await msUntil(
      Date.now(),
      () => fetch(`${stack.gatewayUrl}/readyz`),
      (_s, body) => body.adminReachable === false,
      5000,
    );
    expect(ready).toBeGreaterThan(0);
    const readyz = (await (await fetch(`${stack.gatewayUrl}/readyz`)).json()) as any;
    expect(readyz).toMatchObject({ ready: true, cacheWarm: true, adminReachable: false });
    expect(readyz.pendingUsageItems).toBeGreaterThan(0);

    await stack.restartAdmin();
    // 6 requests of 1 input token ($1/Mtok) + 8 output tokens ($2/Mtok) = 6 × 17 micro-USD.
    await msUntil(
      Date.now(),
      async () => new Response(JSON.stringify((await stack.api('GET', `/v1/keys/${cached.key.id}`)).body)),
      (_s, body) => Math.round(body.spend * 1e6) >= 6 * 17,
      10_000,
    );
    // A double count could only come from a batch sent again: once the gateway holds nothing
    // unaccepted, no report can follow.
    await eventually(
      async () => ((await (await fetch(`${stack.gatewayUrl}/readyz`)).json()) as any).pendingUsageItems === 0,
      { timeoutMs: 10_000, what: 'every usage report accepted' },
    );
    const view = (await stack.api('GET', `/v1/keys/${cached.key.id}`)).body;
    expect(Math.round(view.spend * 1e6)).toBe(6 * 17);
    expect((await call(uncached.secret)).status).toBe(200);
  });
});
