/** The admin plane's GET /metrics (issue 13, item 14): HTTP by route pattern, SQLite writes, usage batches. */
import { describe, expect, it } from 'vitest';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';
import { TEST_INTERNAL_SECRET, createTestAdmin } from '../../helpers/admin-harness.js';

describe('admin GET /metrics', () => {
  it('counts HTTP requests by route pattern (not path), SQLite writes and usage batches applied vs duplicate', async () => {
    const admin = createTestAdmin();
    const org = await admin.call('POST', '/v1/orgs', { body: { name: 'metrics-org' } });
    expect(org.status).toBe(201);
    expect((await admin.call('GET', `/v1/orgs/${org.body.id}`)).status).toBe(200);
    const authorization = await new InternalTokens(TEST_INTERNAL_SECRET).authorizationHeader();
    const batch = { gateway_id: 'g', batch_id: 'b1', batch_seq: 1, items: [] };
    for (let i = 0; i < 2; i++) {
      const sent = await admin.call('POST', '/internal/usage', {
        token: null,
        body: batch,
        headers: { authorization },
      });
      expect(sent.status).toBe(200);
    }
    const text = (await admin.call('GET', '/metrics', { token: null })).body as string;
    expect(text).toContain(
      'keygate_admin_http_requests_total{method="POST",route="/v1/orgs",status="201"} 1',
    );
    expect(text).toContain(
      'keygate_admin_http_requests_total{method="GET",route="/v1/orgs/:id",status="200"} 1',
    );
    expect(text).not.toContain(org.body.id);
    expect(text).toMatch(/keygate_admin_sqlite_write_seconds_count [1-9]/);
    expect(text).toContain('keygate_admin_usage_batches_total{result="applied"} 1');
    expect(text).toContain('keygate_admin_usage_batches_total{result="duplicate"} 1');
  });

  it('requires the bearer token when KEYGATE_METRICS_TOKEN is set', async () => {
    const admin = createTestAdmin({ KEYGATE_METRICS_TOKEN: 'metrics-token-0123456789' });
    expect((await admin.call('GET', '/metrics', { token: null })).status).toBe(401);
    expect((await admin.call('GET', '/metrics', { token: 'metrics-token-0123456789' })).status).toBe(200);
  });
});
