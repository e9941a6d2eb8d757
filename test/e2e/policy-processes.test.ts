/**
 * Issue 14 through real processes (admin plane, gateway, mock upstream): blocking a key or its
 * owning user reaches the gateway as 401 key_blocked within the invalidation promise (100 ms with
 * pushes, 1 s by the change feed alone) and unblocking restores it; an override created on the
 * admin plane applies at the gateway; explain reads the gateway's live counters over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msUntil, seed, startSeededStack, type Stack } from '../helpers/e2e-stack.js';

for (const mode of [
  { push: true, boundMs: 100, name: 'pushes on' },
  { push: false, boundMs: 1000, name: 'change-feed pull only' },
]) {
  describe(`issue 14 across processes, ${mode.name}`, () => {
    let stack: Stack;
    let data: Awaited<ReturnType<typeof seed>>;
    beforeAll(async () => {
      ({ stack, data } = await startSeededStack({ push: mode.push }, mode.push ? 'p14' : 'f14'));
    }, 60_000);
    afterAll(() => stack?.stop());

    const call = (secret: string) => stack.chat(secret, data.target.name);
    const answered = (code: string | null) => (status: number, body: any) =>
      code === null ? status === 200 : body?.error?.code === code;

    it(`block → 401 key_blocked within ${mode.boundMs} ms; unblock → 200 again`, async () => {
      const { key, secret } = await data.createKey();
      expect((await call(secret)).status).toBe(200);
      expect((await stack.api('POST', `/v1/keys/${key.id}/block`)).status).toBe(200);
      expect(await msUntil(Date.now(), () => call(secret), answered('key_blocked'))).toBeLessThan(
        mode.boundMs,
      );
      expect((await stack.api('POST', `/v1/keys/${key.id}/unblock`)).status).toBe(200);
      expect(await msUntil(Date.now(), () => call(secret), answered(null))).toBeLessThan(mode.boundMs);
    });

    if (mode.push) {
      it('an override applies at the gateway, and explain reads the gateway counters', async () => {
        const { key, secret } = await data.createKey({ rpd_limit: 100 });
        expect((await call(secret)).status).toBe(200);
        const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
        const created = await stack.api('POST', `/v1/keys/${key.id}/overrides`, {
          rpd_limit: 1,
          expires_at: expiresAt,
        });
        expect(created.status).toBe(201);
        await msUntil(Date.now(), () => call(secret), answered('rate_limit_exceeded'));
        const explain = await stack.api('GET', `/v1/keys/${key.id}/explain?model=${data.target.name}`);
        expect(explain.body.refused_by).toEqual({
          check: 'window',
          code: 'rate_limit_exceeded',
          param: 'key_rpd',
        });
        expect(explain.body.override).toBe(created.body.id);
        expect(explain.body.gateways).toEqual([{ gateway: stack.gatewayUrl, ok: true }]);
      });
    }
  });
}
