/**
 * Issue 14 on the admin plane (in-process app.request, ManualClock): budget periods and their
 * views, period spend reset by usage of a new period, soft-budget alerts (once per period, audited,
 * delivered to a local receiver with a valid signature and retries), block/unblock of keys and
 * users, and temporary overrides.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertWebhook } from '../../../admin/alerts/alert-webhook.js';
import type { SoftBudgetAlert } from '../../../admin/internal/apply-usage.js';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

let w: KeysWorld;
const internal = new InternalTokens(TEST_INTERNAL_SECRET);
// Wednesday 2026-04-15 12:00 UTC.
const NOW = Date.UTC(2026, 3, 15, 12);

beforeEach(async () => {
  w = await keysWorld();
  w.admin.clock.set(NOW);
});

async function internalCall(method: string, path: string, body?: unknown) {
  return w.admin.call(method, path, {
    token: null,
    body,
    headers: { authorization: await internal.authorizationHeader() },
  });
}

let batch = 0;
async function spend(keyId: string, micros: number, at: number) {
  const res = await internalCall('POST', '/internal/usage', {
    gateway_id: 'gw-1',
    batch_id: `b${++batch}`,
    batch_seq: batch,
    items: [
      {
        key_id: keyId,
        target: 'gpt-4o-mini',
        requests: 1,
        input_tokens: 1,
        output_tokens: 1,
        spend_micros: micros,
        last_used_at: at,
      },
    ],
  });
  expect(res.status).toBe(200);
}

function audits(action: string) {
  return w.admin.deps.db.prepare('SELECT * FROM audit_log WHERE action = ? ORDER BY id').all(action) as {
    entity_id: string;
    after: string;
  }[];
}

describe('budget periods and new limit fields', () => {
  it('keys take budget_period, soft_budget, max_parallel_requests, tags and limit modes; the view shows period_spend and period_resets_at', async () => {
    const res = await w.createKey({
      name: 'k',
      team_id: w.teamA1,
      max_budget: 5,
      budget_period: 'week',
      soft_budget: 4,
      max_parallel_requests: 3,
      rpm_limit: { value: 10, mode: 'shadow' },
      tags: ['prod', 'team:search'],
    });
    expect(res.status).toBe(201);
    expect(res.body.key).toMatchObject({
      max_budget: 5,
      budget_period: 'week',
      period_spend: 0,
      period_resets_at: '2026-04-20T00:00:00.000Z', // next Monday
      soft_budget: 4,
      max_parallel_requests: 3,
      rpm_limit: 10,
      limit_modes: { rpm_limit: 'shadow' },
      tags: ['prod', 'team:search'],
      status: 'active',
    });
    const resolved = await internalCall('GET', `/internal/keys/${res.body.key.token_hash}`);
    expect(resolved.body.key.limits).toMatchObject({
      budgetPeriod: 'week',
      maxParallel: 3,
      rpm: 10,
      shadow: 2,
    });
    expect(resolved.body.tags).toEqual(['prod', 'team:search']);
    // PATCH with a plain value makes the limit enforced again; untouched modes stay.
    const patched = await w.admin.call('PATCH', `/v1/keys/${res.body.key.id}`, { body: { rpm_limit: 11 } });
    expect(patched.body.limit_modes).toEqual({});
  });

  it('teams and orgs show the period fields too', async () => {
    const res = await w.admin.call('PATCH', `/v1/teams/${w.teamA1}`, {
      body: { max_budget: 50, budget_period: 'month' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      budget_period: 'month',
      period_spend: 0,
      period_resets_at: '2026-05-01T00:00:00.000Z',
    });
    const org = await w.admin.call('PATCH', `/v1/orgs/${w.orgA}`, { body: { budget_period: 'day' } });
    expect(org.body).toMatchObject({ budget_period: 'day', period_resets_at: '2026-04-16T00:00:00.000Z' });
  });

  it('period spend counts usage of the current period only and starts over in the next; lifetime spend keeps all', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1, max_budget: 1, budget_period: 'day' }))
      .body.key;
    await spend(key.id, 300_000, NOW);
    await spend(key.id, 200_000, NOW + 1000);
    let view = (await w.admin.call('GET', `/v1/keys/${key.id}`)).body;
    expect(view).toMatchObject({ period_spend: 0.5, spend: 0.5, budget_progress: 0.5 });
    const tomorrow = Date.UTC(2026, 3, 16);
    w.admin.clock.set(tomorrow);
    view = (await w.admin.call('GET', `/v1/keys/${key.id}`)).body;
    expect(view).toMatchObject({ period_spend: 0, spend: 0.5, period_resets_at: '2026-04-17T00:00:00.000Z' });
    await spend(key.id, 100_000, tomorrow + 5);
    view = (await w.admin.call('GET', `/v1/keys/${key.id}`)).body;
    expect(view).toMatchObject({ period_spend: 0.1, spend: 0.6 });
    // A late report of yesterday's usage is lifetime spend only.
    await spend(key.id, 50_000, NOW + 2000);
    view = (await w.admin.call('GET', `/v1/keys/${key.id}`)).body;
    expect(view).toMatchObject({ period_spend: 0.1, spend: 0.65 });
  });
});

describe('soft budgets', () => {
  it('crossing soft_budget raises one audited alert per period', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1, soft_budget: 0.5, budget_period: 'day' }))
      .body.key;
    const sent: SoftBudgetAlert[] = [];
    w.admin.deps.alerts = { send: (alert) => sent.push(alert) };
    await spend(key.id, 400_000, NOW);
    expect(sent).toEqual([]);
    await spend(key.id, 200_000, NOW + 1);
    await spend(key.id, 200_000, NOW + 2);
    expect(sent).toEqual([
      expect.objectContaining({
        type: 'soft_budget_exceeded',
        scope: 'key',
        scope_id: key.id,
        soft_budget: 0.5,
        spend: 0.6,
      }),
    ]);
    expect(audits('budget.soft_exceeded').map((row) => row.entity_id)).toEqual([key.id]);
    // The next day, on the admin's clock too (usage later than its now counts in its current period).
    w.admin.clock.set(Date.UTC(2026, 3, 16, 1));
    await spend(key.id, 600_000, Date.UTC(2026, 3, 16, 1));
    expect(sent.map((alert) => alert.period_start)).toEqual([
      '2026-04-15T00:00:00.000Z',
      '2026-04-16T00:00:00.000Z',
    ]);
  });

  describe('webhook delivery to a local receiver', () => {
    let server: Server;
    let received: { body: string; signature: string; attempt: string }[];
    let failFirst: number;
    beforeEach(async () => {
      received = [];
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          received.push({
            body,
            signature: String(req.headers['x-keygate-signature']),
            attempt: String(req.headers['x-keygate-delivery-attempt']),
          });
          res.statusCode = received.length <= failFirst ? 503 : 204;
          res.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('POSTs the alert as JSON with a valid HMAC signature, retrying 5xx with exponential backoff', async () => {
      failFirst = 2;
      const secret = 'alert-webhook-secret-0123456789-abcdef';
      const delays: number[] = [];
      const webhook = new AlertWebhook({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        secret,
        clock: w.admin.clock,
        logger: pino({ level: 'silent' }),
        baseDelayMs: 100,
        sleep: async (ms) => void delays.push(ms),
      });
      w.admin.deps.alerts = webhook;
      const key = (await w.createKey({ name: 'k', team_id: w.teamA1, soft_budget: 0.1 })).body.key;
      await spend(key.id, 200_000, NOW);
      await webhook.idle();
      expect(received.map((r) => r.attempt)).toEqual(['1', '2', '3']);
      expect(delays).toEqual([100, 200]);
      const last = received[2]!;
      expect(JSON.parse(last.body)).toMatchObject({
        type: 'soft_budget_exceeded',
        scope_id: key.id,
        budget_period: null,
      });
      const [t, v1] = last.signature.split(',').map((part) => part.split('=')[1]);
      expect(Number(t)).toBe(Math.floor(NOW / 1000));
      expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${last.body}`).digest('hex'));
    });
  });
});

describe('block / unblock', () => {
  it('a blocked key shows status blocked, resolves as blocked, is audited and logged for invalidation; unblock restores it', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key;
    const blocked = await w.admin.call('POST', `/v1/keys/${key.id}/block`);
    expect(blocked.body).toMatchObject({ status: 'blocked', blocked_by: 'key' });
    expect((await internalCall('GET', `/internal/keys/${key.token_hash}`)).body.status).toBe('blocked');
    const change = w.admin.deps.db.prepare('SELECT * FROM change_log ORDER BY seq DESC LIMIT 1').get() as {
      entity_id: string;
      token_hashes: string;
    };
    expect(change.entity_id).toBe(key.id);
    expect(JSON.parse(change.token_hashes)).toEqual([key.token_hash]);
    expect(audits('key.block')).toHaveLength(1);
    expect(
      (await w.admin.call('GET', `/v1/keys?status=blocked`)).body.data.map((k: { id: string }) => k.id),
    ).toEqual([key.id]);
    expect((await w.admin.call('POST', `/v1/keys/${key.id}/unblock`)).body.status).toBe('active');
    expect((await internalCall('GET', `/internal/keys/${key.token_hash}`)).body.status).toBe('active');
  });

  it('a revoked key stays revoked (final): block → 409; a self-service owner cannot block or unblock (403)', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1 }, w.tokens.devA1)).body.key;
    expect((await w.admin.call('POST', `/v1/keys/${key.id}/unblock`, { token: w.tokens.devA1 })).status).toBe(
      403,
    );
    expect((await w.admin.call('POST', `/v1/keys/${key.id}/block`, { token: w.tokens.devA1 })).status).toBe(
      403,
    );
    await w.admin.call('POST', `/v1/keys/${key.id}/revoke`);
    expect((await w.admin.call('POST', `/v1/keys/${key.id}/block`)).status).toBe(409);
  });

  it('blocking a user blocks every key they own until unblocked', async () => {
    const a = (await w.createKey({ name: 'a', team_id: w.teamA1 }, w.tokens.devA1)).body.key;
    const b = (await w.createKey({ name: 'b', team_id: w.teamA1 }, w.tokens.devA1)).body.key;
    const res = await w.admin.call('POST', `/v1/users/${w.users.devA1}/block`);
    expect(res.body).toEqual({ id: w.users.devA1, blocked: true, keys: 2 });
    for (const key of [a, b]) {
      expect((await w.admin.call('GET', `/v1/keys/${key.id}`)).body).toMatchObject({
        status: 'blocked',
        blocked_by: 'owner',
      });
      expect((await internalCall('GET', `/internal/keys/${key.token_hash}`)).body.status).toBe('blocked');
    }
    const change = w.admin.deps.db.prepare('SELECT * FROM change_log ORDER BY seq DESC LIMIT 1').get() as {
      entity_type: string;
      token_hashes: string;
    };
    expect(change.entity_type).toBe('user');
    expect(JSON.parse(change.token_hashes).sort()).toEqual([a.token_hash, b.token_hash].sort());
    expect(
      (await w.admin.call('POST', `/v1/users/${w.users.devA1}/block`, { token: w.tokens.orgAdminA })).status,
    ).toBe(403);
    await w.admin.call('POST', `/v1/users/${w.users.devA1}/unblock`);
    expect((await internalCall('GET', `/internal/keys/${a.token_hash}`)).body.status).toBe('active');
  });
});

describe('temporary overrides', () => {
  it('an override is listed on the key, audited, resolved for gateways, and lapses at expires_at', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1, rpm_limit: 10 })).body.key;
    const expiresAt = new Date(NOW + 3_600_000).toISOString();
    const created = await w.admin.call('POST', `/v1/keys/${key.id}/overrides`, {
      body: { rpm_limit: 100, max_parallel_requests: 5, expires_at: expiresAt, reason: 'launch day' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      limits: { rpm_limit: 100, max_parallel_requests: 5 },
      expires_at: expiresAt,
    });
    expect((await w.admin.call('GET', `/v1/keys/${key.id}`)).body.overrides).toHaveLength(1);
    expect(audits('key.override.create')).toHaveLength(1);
    const resolved = (await internalCall('GET', `/internal/keys/${key.token_hash}`)).body;
    expect(resolved.overrides).toEqual([
      {
        id: created.body.id,
        limits: expect.objectContaining({ rpm: 100, maxParallel: 5, tpm: null }),
        expiresAt: NOW + 3_600_000,
      },
    ]);
    w.admin.clock.set(NOW + 3_600_000);
    expect((await w.admin.call('GET', `/v1/keys/${key.id}/overrides`)).body.data).toEqual([]);
    expect((await internalCall('GET', `/internal/keys/${key.token_hash}`)).body.overrides).toBeUndefined();
  });

  it('refuses an override in the past or setting nothing (400), and ends one early with DELETE', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key;
    const past = new Date(NOW - 1).toISOString();
    expect(
      (
        await w.admin.call('POST', `/v1/keys/${key.id}/overrides`, {
          body: { rpm_limit: 1, expires_at: past },
        })
      ).body.error.param,
    ).toBe('expires_at');
    const future = new Date(NOW + 60_000).toISOString();
    expect(
      (await w.admin.call('POST', `/v1/keys/${key.id}/overrides`, { body: { expires_at: future } })).status,
    ).toBe(400);
    const created = await w.admin.call('POST', `/v1/keys/${key.id}/overrides`, {
      body: { rpm_limit: 1, expires_at: future },
    });
    expect((await w.admin.call('DELETE', `/v1/keys/${key.id}/overrides/${created.body.id}`)).status).toBe(
      204,
    );
    expect((await w.admin.call('GET', `/v1/keys/${key.id}/overrides`)).body.data).toEqual([]);
  });
});
