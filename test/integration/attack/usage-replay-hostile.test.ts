/**
 * `keygate usage replay` (bin/usage-replay.ts, in-process against an admin plane on a socket) over
 * a refused/ area a careless operator or a damaged disk left: nothing is lost silently, every file
 * it cannot send is named and kept, and the exit code says so (0 none left, 1 some left, 2 a usage
 * or configuration problem).
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsageCommand } from '../../../bin/usage-replay.js';
import { loadConfig } from '../../../src/config/config.js';
import { RefusedBatches } from '../../../gateway/usage/refused-batches.js';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { serveAdmin, type AdminOnSocket } from '../../helpers/admin-http.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

let w: KeysWorld;
let http: AdminOnSocket;
let keyId: string;

beforeAll(async () => {
  w = await keysWorld();
  keyId = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key.id as string;
  http = await serveAdmin(w.admin);
});
afterAll(() => http.close());

async function replay(dir: string, adminUrl = http.url): Promise<{ code: number; output: string }> {
  const config = loadConfig({ KEYGATE_ADMIN_URL: adminUrl, KEYGATE_INTERNAL_SECRET: TEST_INTERNAL_SECRET });
  let output = '';
  const sink = { write: (text: string) => (output += text) };
  const code = await runUsageCommand(config, ['replay', dir], sink, sink);
  return { code, output };
}

function batch(batchId: string, spend: number) {
  return {
    gatewayId: 'gw-hostile',
    batchId,
    batchSeq: 1,
    items: [
      {
        keyId,
        target: 'gpt-4o-mini',
        requests: 1,
        inputTokens: 1,
        outputTokens: 1,
        spendMicros: spend,
        lastUsedAt: Date.now(),
      },
    ],
  };
}

const teamSpend = () =>
  (w.admin.deps.db.prepare('SELECT spend_micros AS s FROM teams WHERE id = ?').get(w.teamA1) as { s: number })
    .s;

describe('keygate usage replay over a damaged refused/ area', () => {
  it('a file whose items are not objects is named and kept; the batches after it are still sent', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'keygate-replay-hostile-'));
    const area = RefusedBatches.inSpool(spool);
    mkdirSync(area.dir, { recursive: true });
    const bad = join(area.dir, 'usage-a-bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ report: { gateway_id: 'g', batch_id: 'x', batch_seq: 1, items: [null] } }),
    );
    area.keep(batch('batch_b_good', 70), { status: 422, body: '{}' }, 1);
    const before = teamSpend();

    const result = await replay(spool);
    expect(result.output).toContain(`unreadable ${bad}`);
    expect(result.output).not.toContain('not tried');
    expect(result.output).toMatch(/1 applied, 0 already applied, 0 refused again, 1 not sent; 1 kept/);
    expect(result.code).toBe(1);
    expect(teamSpend()).toBe(before + 70);
    expect(readdirSync(area.dir)).toEqual(['usage-a-bad.json']);
  });

  it('a server that answers 200 without `applied` (KEYGATE_ADMIN_URL pointing elsewhere) removes nothing: not sent, kept, exit 1', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'keygate-replay-hostile-'));
    const area = RefusedBatches.inSpool(spool);
    area.keep(batch('batch_c', 5), { status: 422, body: '{}' }, 1);
    area.keep(batch('batch_d', 6), { status: 422, body: '{}' }, 1);
    const other = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    );
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const result = await replay(spool, `http://127.0.0.1:${(other.address() as AddressInfo).port}`);
      expect(result.output).toMatch(/not sent batch_c .*applied/);
      expect(result.output).toMatch(/0 applied, 0 already applied, 0 refused again, 2 not sent; 2 kept/);
      expect(result.code).toBe(1);
      expect(area.list()).toHaveLength(2);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('a spool directory that does not exist (a typo) is a usage problem: exit 2, not "0 kept"', async () => {
    const missing = join(tmpdir(), 'keygate-replay-no-such-dir', 'spool');
    const result = await replay(missing);
    expect(result.code).toBe(2);
    expect(result.output).toContain(missing);
  });

  it('a spool without a refused/ area (nothing was ever set aside) replays nothing, exit 0', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'keygate-replay-hostile-'));
    const result = await replay(spool);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/0 not sent; 0 kept/);
  });

  it('a refused/ that is not a directory: a clear message naming it, exit 2, no stack', async () => {
    const spool = mkdtempSync(join(tmpdir(), 'keygate-replay-hostile-'));
    writeFileSync(join(spool, 'refused'), 'oops');
    const result = await replay(spool);
    expect(result.code).toBe(2);
    expect(result.output).toContain(join(spool, 'refused'));
  });

  it('two batch ids that differ only in characters a file name cannot hold are kept in two files', () => {
    const spool = mkdtempSync(join(tmpdir(), 'keygate-replay-hostile-'));
    const area = RefusedBatches.inSpool(spool);
    const a = area.keep(batch('recovered/1', 1), { status: 422, body: '{}' }, 1);
    const b = area.keep(batch('recovered:1', 2), { status: 422, body: '{}' }, 1);
    expect(a).not.toBe(b);
    expect(
      area
        .list()
        .map((path) => area.read(path).report.batch_id)
        .sort(),
    ).toEqual(['recovered/1', 'recovered:1']);
  });
});
