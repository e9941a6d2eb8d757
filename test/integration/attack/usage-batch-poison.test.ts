/**
 * A usage batch the admin plane refuses as malformed is sent again unchanged for ever, and every
 * later batch waits behind it: the gateway's usage accounting is wedged (spend never persisted,
 * spool growing, the same batch replayed at every start). Two ways to make one, both seen here
 * against the real `POST /internal/usage` validation:
 *
 * - more than 100,000 items in one batch (the route's maximum). Items are per key × target ×
 *   request tag set, and while the admin plane is unreachable everything recorded goes into the
 *   one open batch; a few minutes of outage with many keys, or one key with `allow_request_tags`
 *   sending a new `x-keygate-tags` set per request, is enough.
 * - a KEYGATE_GATEWAY_ID longer than the route's 200 characters: every batch refused.
 */
import { describe, expect, it } from 'vitest';
import { UsageReporter, type UsageSink } from '../../../gateway/usage/usage-reporter.js';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { usageReportToWire, type UsageReport } from '../../../src/usage/usage-report.js';
import { createTestAdmin } from '../../helpers/admin-harness.js';

/** The admin plane's internal usage route, in process; `down` answers like an unreachable plane. */
function adminSink() {
  const admin = createTestAdmin();
  const sink = {
    down: false,
    statuses: [] as number[],
    async postUsage(report: UsageReport) {
      if (sink.down) throw new Error('admin plane unreachable');
      const res = await admin.callInternal('POST', '/internal/usage', usageReportToWire(report));
      sink.statuses.push(res.status);
      if (res.status !== 200) throw new Error(`POST /internal/usage answered ${res.status}`);
      return res.body as { applied: boolean };
    },
  } satisfies UsageSink & Record<string, unknown>;
  return sink;
}

describe('usage batches the admin plane would refuse for ever', () => {
  it('usage recorded during an admin outage is sent in batches the admin plane accepts (≤ 100,000 items each)', async () => {
    const sink = adminSink();
    const reporter = new UsageReporter({ sink, gatewayId: 'gw-poison' });
    sink.down = true;
    // One key sending a new tag set per request: 100,001 items.
    for (let i = 0; i <= 100_000; i++) {
      reporter.record('key_tagged', 'gpt-4o-mini', 10, 1, 5, 1_700_000_000_000 + i, [`t${i}`]);
    }
    await reporter.flush();
    expect(reporter.pendingRequests).toBe(100_001);
    sink.down = false;
    await reporter.flush();
    await reporter.flush();
    expect(sink.statuses.filter((status) => status !== 200)).toEqual([]);
    expect(reporter.pendingRequests).toBe(0);
    expect(reporter.unsentBatches).toBe(0);
  }, 120_000);

  it('a KEYGATE_GATEWAY_ID the admin plane cannot accept stops the start with a clear message', () => {
    expect(() => loadConfig({ KEYGATE_GATEWAY_ID: 'g'.repeat(201) })).toThrow(ConfigError);
    expect(() => loadConfig({ KEYGATE_GATEWAY_ID: 'g'.repeat(201) })).toThrow(/KEYGATE_GATEWAY_ID/);
    expect(loadConfig({ KEYGATE_GATEWAY_ID: 'g'.repeat(200) }).gatewayId).toBe('g'.repeat(200));
  });

  it('a gateway id of 200 characters is accepted by the usage route', async () => {
    const sink = adminSink();
    const reporter = new UsageReporter({ sink, gatewayId: 'g'.repeat(200) });
    reporter.record('key_a', 'gpt-4o-mini', 10, 1, 5, 1_700_000_000_000);
    await reporter.flush();
    expect(sink.statuses).toEqual([200]);
  });
});
