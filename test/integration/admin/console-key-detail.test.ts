/**
 * The key detail page against the real admin API (in process): usage per hour and per day from
 * `GET /v1/usage?group_by=hour|day` (fed through POST /internal/usage, the real ingestion path),
 * and "why refused" for a chosen model from `GET /v1/keys/:id/explain`, each check in order
 * with its verdict and numbers (a blocked key: refused by the status check, `key_blocked`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestAdmin, TEST_MASTER_KEY, type TestAdmin } from '../../helpers/admin-harness.js';

const HOUR = 3_600_000;

async function signIn(admin: TestAdmin): Promise<string> {
  const page = await admin.app.request('/sign-in');
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const pre = page.headers.getSetCookie()[0]!.split(';')[0]!;
  const signedIn = await admin.app.request('/sign-in', {
    method: 'POST',
    headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, method: 'master', master_key: TEST_MASTER_KEY }).toString(),
  });
  return signedIn.headers
    .getSetCookie()
    .find((l) => l.startsWith('kg_session='))!
    .split(';')[0]!;
}

/** The text of the page with tags dropped and whitespace collapsed. */
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/\s+/g, ' ');

describe('console key detail: usage per hour/day and "why refused"', () => {
  let admin: TestAdmin;
  let cookie: string;
  let keyId: string;
  const now = Date.UTC(2026, 10, 30, 6, 20);

  beforeAll(async () => {
    admin = createTestAdmin();
    admin.clock.set(now);
    const org = (await admin.call('POST', '/v1/orgs', { body: { name: 'o' } })).body;
    const team = (await admin.call('POST', '/v1/teams', { body: { org_id: org.id, name: 't' } })).body;
    for (const name of ['gpt-x', 'other-x']) {
      const target = await admin.call('POST', '/v1/targets', {
        body: { name, upstream: { base_url: 'http://127.0.0.1:9/v1' } },
      });
      expect(target.status).toBe(201);
    }
    const created = await admin.call('POST', '/v1/keys', {
      body: {
        name: 'detail-key',
        team_id: team.id,
        owner: { type: 'service_account', create: { name: 'svc' } },
        rpm_limit: 60,
        max_budget: 20,
        budget_period: 'month',
        max_parallel_requests: 3,
        access: { mode: 'restrict', targets: ['gpt-x'] },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    keyId = created.body.key.id;
    const item = (at: number, requests: number, spendMicros: number) => ({
      key_id: keyId,
      target: 'gpt-x',
      requests,
      input_tokens: requests * 100,
      output_tokens: requests * 10,
      spend_micros: spendMicros,
      last_used_at: at,
    });
    const report = {
      gateway_id: 'gw-test',
      batch_id: 'batch-1',
      batch_seq: 1,
      items: [
        item(now - 2 * HOUR, 4, 1_500_000),
        item(now, 2, 500_000),
        item(now - 3 * 24 * HOUR, 9, 250_000),
      ],
    };
    const usage = await admin.app.request('/internal/usage', {
      method: 'POST',
      headers: {
        authorization: await admin.deps.internalTokens.authorizationHeader(),
        'content-type': 'application/json',
      },
      body: JSON.stringify(report),
    });
    expect(usage.status).toBe(200);
    cookie = await signIn(admin);
  });

  const detail = async (query = '') => {
    const response = await admin.app.request(`/keys/${keyId}${query}`, { headers: { cookie } });
    expect(response.status).toBe(200);
    return response.text();
  };

  it('charts requests, tokens and spend per hour (last 24 h) and per day', async () => {
    const page = text(await detail());
    expect(page).toContain('Usage per hour, last 24 hours (UTC)');
    expect(page).toContain('2026-11-30 04:00 4 440 $1.50');
    expect(page).toContain('2026-11-30 06:00 2 220 $0.50');
    expect(page).not.toContain('2026-11-27 06:00'); // three days ago: only in the day chart
    expect(page).toContain('Usage per day (UTC)');
    expect(page).toContain('2026-11-27 9 990 $0.25');
    expect(page).toContain('2026-11-30 6 660 $2.00');
  });

  it('the keys table shows the period spend of the real API with the period and its reset', async () => {
    const response = await admin.app.request('/keys', { headers: { cookie } });
    const page = text(await response.text());
    expect(page).toContain('$2.25 of $20.00 per month resets 2026-12-01 00:00 UTC');
  });

  it('offers every target as a model and renders each explain check in order', async () => {
    const html = await detail('?model=gpt-x');
    expect(html).toMatch(/<select id="explain-model" name="model">.*gpt-x.*other-x/s);
    const checks = [...html.matchAll(/data-check="(\w+)" data-verdict="(\w+)"/g)].map(
      (m) => `${m[1]}:${m[2]}`,
    );
    expect(checks).toEqual([
      'status:pass',
      'expiry:pass',
      'target_exists:pass',
      'allowed:pass',
      'budget:pass',
      'window:pass',
      'parallel:pass',
    ]);
    const page = text(html);
    expect(page).toContain('Admitted for gpt-x');
    expect(page).toContain('key: restrict (via target)');
    expect(page).toContain(
      'key_budget: spent $2.25 + reserved $0.00 of $20.00, $17.75 left per month, resets 2026-12-01 00:00:00 UTC',
    );
    expect(page).toContain('key_rpm: 0 used of 60, 60 left');
    expect(page).toContain('key_parallel: 0 in flight of 3');
  });

  it('a model outside the key and a blocked key: refused, by the check the gateway would name', async () => {
    const outside = text(await detail('?model=other-x'));
    expect(outside).toContain('Refused for other-x');
    expect(outside).toContain('by the allowed check: model_not_allowed (param model)');
    expect((await admin.call('POST', `/v1/keys/${keyId}/block`)).status).toBe(200);
    const html = await detail('?model=gpt-x');
    expect(html).toContain('data-check="status" data-verdict="fail"');
    expect(text(html)).toContain('by the status check: key_blocked');
    expect((await admin.call('POST', `/v1/keys/${keyId}/unblock`)).status).toBe(200);
  });

  it('the users page shows a user blocked through the API as blocked, with Unblock', async () => {
    const user = (await admin.call('POST', '/v1/users', { body: { email: 'owner@example.com' } })).body;
    const teamId = (await admin.call('GET', `/v1/keys/${keyId}`)).body.team.id;
    await admin.call('PUT', `/v1/teams/${teamId}/members/${user.id}`, { body: { role: 'team_admin' } });
    const token = (await admin.call('POST', `/v1/users/${user.id}/tokens`, { body: {} })).body.token;
    const owned = await admin.call('POST', '/v1/keys', { token, body: { name: 'owned', team_id: teamId } });
    expect(owned.status).toBe(201);
    const row = async () => {
      const html = await (await admin.app.request('/users', { headers: { cookie } })).text();
      return /<tr>(?:(?!<tr>).)*owner@example\.com.*?<\/tr>/s.exec(html)![0];
    };
    expect(await row()).toContain(`data-action="user-block" data-user-id="${user.id}"`);
    expect((await admin.call('POST', `/v1/users/${user.id}/block`)).status).toBe(200);
    const blocked = await row();
    expect(blocked).toContain('status-blocked');
    expect(blocked).toContain(`data-action="user-unblock" data-user-id="${user.id}"`);
    const keys = await (await admin.app.request('/keys', { headers: { cookie } })).text();
    expect(text(keys)).toContain('blocked (owner)');
  });

  it('the users page shows a blocked user who owns no key as blocked (the user view’s blocked field)', async () => {
    const user = (await admin.call('POST', '/v1/users', { body: { email: 'keyless@example.com' } })).body;
    expect((await admin.call('POST', `/v1/users/${user.id}/block`)).status).toBe(200);
    const html = await (await admin.app.request('/users', { headers: { cookie } })).text();
    const row = /<tr>(?:(?!<tr>).)*keyless@example\.com.*?<\/tr>/s.exec(html)![0];
    expect(row).toContain('status-blocked');
    expect(row).toContain(`data-action="user-unblock" data-user-id="${user.id}"`);
  });
});
