/**
 * startGateway (gateway/main.ts) wiring of refused usage: a batch a dead predecessor left in the
 * spool, which the admin plane refuses for good, is set aside in `<spool>/refused/` at start
 * (not replayed at every start for ever), and shows in /readyz and /metrics.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from '../../../gateway/main.js';
import { loadConfig } from '../../../src/config/config.js';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { serveAdmin, type AdminOnSocket } from '../../helpers/admin-http.js';
import { keysWorld } from '../admin/keys-world.js';

/** A pid no process has (above the kernel's maximum, 2^22). */
const DEAD_PID = 4_194_305;
let http: AdminOnSocket | undefined;

afterEach(async () => {
  await http?.close();
});

describe('a refused batch left in the spool', () => {
  it('is set aside at start, counted in /readyz and /metrics', async () => {
    const w = await keysWorld();
    http = await serveAdmin(w.admin);
    const spoolDir = mkdtempSync(join(tmpdir(), 'keygate-refused-start-'));
    const open = { gatewayId: 'gw-old', batchId: 'batch_refused', batchSeq: 1 };
    const row = ['k'.repeat(129), 'gpt-4o-mini', 1, 1, 1, 5, 1_700_000_000_000];
    writeFileSync(
      join(spoolDir, `usage-${DEAD_PID}-1-0000.spool`),
      `${JSON.stringify({ open })}\n${JSON.stringify({ add: 'batch_refused', items: [row] })}\n`,
      { mode: 0o600 },
    );
    const config = loadConfig({
      KEYGATE_GATEWAY_PORT: '0',
      KEYGATE_ADMIN_URL: http.url,
      KEYGATE_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
      KEYGATE_SPOOL_DIR: spoolDir,
      KEYGATE_LOG_LEVEL: 'silent',
    });
    const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
    try {
      expect(readdirSync(join(spoolDir, 'refused'))).toEqual(['usage-batch_refused.json']);
      const ready = (await (await fetch(`${gateway.url}/readyz`)).json()) as Record<string, unknown>;
      expect(ready).toMatchObject({ refusedUsageBatches: 1, pendingUsageItems: 0 });
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/^keygate_gateway_usage_refused_batches_total 1$/m);
    } finally {
      await gateway.close();
    }
    // The journal no longer holds it: the next start has nothing to replay.
    expect(readdirSync(spoolDir).filter((name) => name.endsWith('.spool'))).toEqual([]);
  });
});
