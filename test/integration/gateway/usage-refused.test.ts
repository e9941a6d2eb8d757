/**
 * A usage batch the admin plane refuses for good (a 4xx retrying cannot change) is set aside, and
 * the batches after it still reach the admin plane; transient refusals (auth, 429, 5xx, network)
 * are still retried in order. Real admin plane on a socket, real AdminClient.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../gateway/admin-client.js';
import { UsageReporter } from '../../../gateway/usage/usage-reporter.js';
import { systemClock } from '../../../src/clock.js';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { serveAdmin, type AdminOnSocket } from '../../helpers/admin-http.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

let w: KeysWorld;
let http: AdminOnSocket;
let client: AdminClient;
let keyId: string;

beforeEach(async () => {
  w = await keysWorld();
  keyId = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key.id as string;
  http = await serveAdmin(w.admin);
  client = new AdminClient({
    adminUrl: http.url,
    internalSecret: TEST_INTERNAL_SECRET,
    gatewayId: 'gw-refused',
    clock: systemClock,
  });
});

afterEach(async () => {
  await client.close();
  await http.close();
});

const spendMicros = async (): Promise<number> => {
  const res = await w.admin.call('GET', `/v1/usage?key_id=${keyId}`);
  return Math.round((res.body.totals.spend as number) * 1e6);
};

/** A key id longer than the route's 128 characters: the admin plane answers 400, every time. */
const BAD_KEY = 'k'.repeat(129);

describe('a usage batch refused for good', () => {
  it('does not hold back the batches after it: their spend reaches the admin plane', async () => {
    const reporter = new UsageReporter({ sink: client, gatewayId: 'gw-refused', setAside: () => undefined });
    reporter.record(BAD_KEY, 'gpt-4o-mini', 1, 1, 5, Date.now());
    await reporter.flush();
    reporter.record(keyId, 'gpt-4o-mini', 10, 1, 700, Date.now());
    await reporter.flush();
    reporter.record(keyId, 'gpt-4o-mini', 10, 1, 70, Date.now());
    await reporter.flush();
    expect(await spendMicros()).toBe(770);
    expect(reporter.unsentBatches).toBe(0);
    expect(reporter.refusedBatches).toBe(1);
  });
});
