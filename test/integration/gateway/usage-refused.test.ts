/**
 * A usage batch the admin plane refuses for good (a 4xx retrying cannot change) is set aside, and
 * the batches after it still reach the admin plane; transient refusals (auth, 429, 5xx, network)
 * are still retried in order. Real admin plane on a socket, real AdminClient.
 */
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../gateway/admin-client.js';
import { RefusedBatches } from '../../../gateway/usage/refused-batches.js';
import { usageSetAside } from '../../../gateway/usage/set-aside.js';
import { UsageReporter } from '../../../gateway/usage/usage-reporter.js';
import { UsageSpool } from '../../../gateway/usage/usage-spool.js';
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

/** A pino logger whose lines land in `lines` (parsed). */
function capturingLogger(): { logger: pino.Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('where a refused batch goes', () => {
  it('with a spool: a 0600 file in the 0700 refused/ area with the status and error body; the journal no longer replays it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-refused-'));
    const { spool } = UsageSpool.open({ dir });
    const { logger, lines } = capturingLogger();
    const reporter = new UsageReporter({
      sink: client,
      gatewayId: 'gw-refused',
      journal: spool,
      setAside: usageSetAside(RefusedBatches.inSpool(dir), logger, systemClock),
    });
    reporter.record(BAD_KEY, 'gpt-4o-mini', 1, 1, 5, Date.now());
    await reporter.flush();
    reporter.record(keyId, 'gpt-4o-mini', 1, 1, 9, Date.now());
    await reporter.flush();
    expect(spool.close()).toBe(0);
    expect(await spendMicros()).toBe(9);

    const area = join(dir, 'refused');
    expect(statSync(area).mode & 0o777).toBe(0o700);
    const files = readdirSync(area);
    expect(files).toHaveLength(1);
    expect(statSync(join(area, files[0]!)).mode & 0o777).toBe(0o600);
    const kept = JSON.parse(readFileSync(join(area, files[0]!), 'utf8'));
    expect(kept.status).toBe(400);
    expect(JSON.parse(kept.error).error.code).toBe('invalid_request');
    expect(kept.report).toMatchObject({
      gateway_id: 'gw-refused',
      items: [{ key_id: BAD_KEY, spend_micros: 5 }],
    });
    expect(lines.find((line) => line.level === 50)).toMatchObject({
      status: 400,
      path: join(area, files[0]!),
    });
    // The next start does not send it again (and again): it lives in refused/ now.
    const reopened = UsageSpool.open({ dir });
    expect(reopened.recovered).toEqual([]);
    reopened.spool.close();
  });

  it('without a refused area (or when it cannot be written): logged in full at error level, items included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-refused-'));
    writeFileSync(join(dir, 'not-a-dir'), '');
    for (const refused of [undefined, new RefusedBatches(join(dir, 'not-a-dir', 'refused'))]) {
      const { logger, lines } = capturingLogger();
      const reporter = new UsageReporter({
        sink: client,
        gatewayId: 'gw-refused',
        setAside: usageSetAside(refused, logger, systemClock),
      });
      reporter.record(BAD_KEY, 'gpt-4o-mini', 3, 4, 5, 1_700_000_000_000);
      await reporter.flush();
      expect(reporter.unsentBatches).toBe(0);
      const line = lines.find((l) => l.level === 50 && l.report !== undefined);
      expect(line).toMatchObject({
        status: 400,
        report: {
          gateway_id: 'gw-refused',
          items: [{ key_id: BAD_KEY, requests: 1, input_tokens: 3, output_tokens: 4, spend_micros: 5 }],
        },
      });
    }
  });
});

describe('answers that are not a refusal for good keep the batch first in line', () => {
  for (const status of [401, 403, 404, 408, 429, 500, 503]) {
    it(`${status}: retried in order, nothing set aside`, async () => {
      const server = createServer((_req, res) => res.writeHead(status).end('{"error":{}}'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const flaky = new AdminClient({
        adminUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        internalSecret: TEST_INTERNAL_SECRET,
        gatewayId: 'gw-refused',
        clock: systemClock,
      });
      const setAside: unknown[] = [];
      const reporter = new UsageReporter({
        sink: flaky,
        gatewayId: 'gw-refused',
        setAside: (report) => setAside.push(report),
      });
      reporter.record(keyId, 'gpt-4o-mini', 1, 1, 5, Date.now());
      await reporter.flush();
      reporter.record(keyId, 'gpt-4o-mini', 1, 1, 5, Date.now());
      await reporter.flush();
      expect(setAside).toEqual([]);
      expect(reporter.refusedBatches).toBe(0);
      expect(reporter.unsentBatches).toBe(2);
      await flaky.close();
      await new Promise((resolve) => server.close(resolve));
    });
  }

  it('a wrong internal secret (401 from the real admin plane) is retried, not set aside', async () => {
    const misconfigured = new AdminClient({
      adminUrl: http.url,
      internalSecret: 'another-internal-secret-0123456789-abcdef',
      gatewayId: 'gw-refused',
      clock: systemClock,
    });
    const reporter = new UsageReporter({
      sink: misconfigured,
      gatewayId: 'gw-refused',
      setAside: () => undefined,
    });
    reporter.record(keyId, 'gpt-4o-mini', 1, 1, 5, Date.now());
    await reporter.flush();
    expect(reporter.refusedBatches).toBe(0);
    expect(reporter.unsentBatches).toBe(1);
    await misconfigured.close();
  });
});
