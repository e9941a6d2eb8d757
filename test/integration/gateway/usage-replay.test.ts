/**
 * `keygate usage replay <spool-dir>` (the real CLI process) against a real admin plane on a
 * socket: set-aside batches the admin plane now accepts are applied once and their files removed,
 * a replay of an already applied batch counts nothing twice, and a batch refused again stays
 * (exit 1). The set-aside files are made by the gateway's own reporter, refused by an older
 * admin plane (here: a server answering 422 to every usage batch).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../gateway/admin-client.js';
import { RefusedBatches } from '../../../gateway/usage/refused-batches.js';
import { usageSetAside } from '../../../gateway/usage/set-aside.js';
import { UsageReporter } from '../../../gateway/usage/usage-reporter.js';
import { systemClock } from '../../../src/clock.js';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { serveAdmin, type AdminOnSocket } from '../../helpers/admin-http.js';
import { entryArgs, ROOT } from '../../helpers/processes.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

let w: KeysWorld;
let http: AdminOnSocket;
let keyId: string;
const spoolDir = mkdtempSync(join(tmpdir(), 'keygate-replay-'));

/** Runs `keygate usage replay <dir>` against the admin plane on the socket. */
async function replay(dir: string, adminUrl = http.url): Promise<{ code: number; output: string }> {
  const env = {
    ...process.env,
    KEYGATE_ADMIN_URL: adminUrl,
    KEYGATE_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    KEYGATE_LOG_LEVEL: 'silent',
  };
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...entryArgs('bin/keygate.ts'), 'usage', 'replay', dir],
      { cwd: ROOT, env },
    );
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

const spendMicros = async (): Promise<number> => {
  const res = await w.admin.call('GET', `/v1/usage?key_id=${keyId}`);
  return Math.round((res.body.totals.spend as number) * 1e6);
};

/** Records `spend` for `key` in a batch of its own, refused with 422 and set aside in spoolDir. */
async function setAsideBatch(key: string, spend: number, refuser: string): Promise<void> {
  const client = new AdminClient({
    adminUrl: refuser,
    internalSecret: TEST_INTERNAL_SECRET,
    gatewayId: 'gw-replay',
    clock: systemClock,
  });
  const reporter = new UsageReporter({
    sink: client,
    gatewayId: 'gw-replay',
    setAside: usageSetAside(RefusedBatches.inSpool(spoolDir), pino({ level: 'silent' }), systemClock),
  });
  reporter.record(key, 'gpt-4o-mini', 10, 1, spend, Date.now());
  await reporter.flush();
  expect(reporter.refusedBatches).toBe(1);
  await client.close();
}

let refuser: Server;
let refuserUrl: string;

beforeAll(async () => {
  w = await keysWorld();
  keyId = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key.id as string;
  http = await serveAdmin(w.admin);
  refuser = createServer((_req, res) =>
    res.writeHead(422, { 'content-type': 'application/json' }).end('{"error":{"code":"invalid_request"}}'),
  );
  await new Promise<void>((resolve) => refuser.listen(0, '127.0.0.1', resolve));
  refuserUrl = `http://127.0.0.1:${(refuser.address() as AddressInfo).port}`;
  await setAsideBatch(keyId, 300, refuserUrl);
  await setAsideBatch(keyId, 40, refuserUrl);
});

afterAll(async () => {
  await http.close();
  await new Promise((resolve) => refuser.close(resolve));
});

describe('keygate usage replay', () => {
  const area = join(spoolDir, 'refused');

  it('applies the set-aside batches, removes their files, and a second replay counts nothing twice', async () => {
    const files = readdirSync(area);
    expect(files).toHaveLength(2);
    expect(await spendMicros()).toBe(0);
    const copies = mkdtempSync(join(tmpdir(), 'keygate-replay-copy-'));
    for (const file of files) copyFileSync(join(area, file), join(copies, file));

    const first = await replay(spoolDir);
    expect(first.code).toBe(0);
    expect(first.output).toMatch(/2 applied, 0 already applied, 0 refused again, 0 not sent; 0 kept/);
    expect(readdirSync(area)).toEqual([]);
    expect(await spendMicros()).toBe(340);

    // The same files again (an operator restoring a copy, or two replays racing): same batch ids.
    for (const file of files) copyFileSync(join(copies, file), join(area, file));
    const second = await replay(spoolDir);
    expect(second.code).toBe(0);
    expect(second.output).toMatch(/0 applied, 2 already applied/);
    expect(readdirSync(area)).toEqual([]);
    expect(await spendMicros()).toBe(340);
  }, 60_000);

  it('a file of valid JSON but not a set-aside batch is reported and kept; the others still go', async () => {
    const before = await spendMicros();
    const garbage = ['usage-a-empty.json', 'usage-b-noitems.json', 'usage-c-array.json'];
    writeFileSync(join(area, garbage[0]!), '{}\n');
    writeFileSync(join(area, garbage[1]!), '{"report":{"batch_id":"x","gateway_id":"g","batch_seq":1}}\n');
    writeFileSync(join(area, garbage[2]!), '[1,2]\n');
    await setAsideBatch(keyId, 7, refuserUrl);

    const result = await replay(spoolDir);
    const kept = readdirSync(area).sort();
    for (const name of garbage) rmSync(join(area, name), { force: true });
    expect(result.output).toMatch(/1 applied, 0 already applied, 0 refused again, 3 not sent; 3 kept/);
    for (const name of garbage) expect(result.output).toContain(`unreadable ${join(area, name)}`);
    expect(result.code).toBe(1);
    expect(kept).toEqual(garbage);
    expect(await spendMicros()).toBe(before + 7);
  }, 60_000);

  it('removes and names a stale temporary a killed gateway left, keeps a young one, sends the batches', async () => {
    const before = await spendMicros();
    const stale = join(area, 'usage-batch_killed.json.tmp');
    const young = join(area, 'usage-batch_writing.json.tmp');
    for (const path of [stale, young]) writeFileSync(path, '{"refusedAt":1,"report":{"batch_id"');
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(stale, old, old);
    await setAsideBatch(keyId, 11, refuserUrl);

    const result = await replay(spoolDir);
    expect(result.output).toContain(`removed stale temporary ${stale}\n`);
    expect(result.output).not.toContain(young);
    expect(result.output).toMatch(/1 applied, 0 already applied, 0 refused again, 0 not sent; 0 kept/);
    expect(result.code).toBe(0);
    expect(readdirSync(area)).toEqual(['usage-batch_writing.json.tmp']);
    rmSync(young);
    expect(await spendMicros()).toBe(before + 11);
  }, 60_000);

  it('a batch refused again stays, with a non-zero exit', async () => {
    // A key id the admin plane refuses (400), whatever its version.
    await setAsideBatch('k'.repeat(129), 5, http.url);
    expect(readdirSync(area)).toHaveLength(1);

    const result = await replay(spoolDir);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/refused again .*: 400 .*invalid_request/);
    expect(result.output).toMatch(/1 refused again, 0 not sent; 1 kept/);
    expect(readdirSync(area)).toHaveLength(1);
  }, 60_000);

  it('stops at the first batch it cannot send (admin plane away): the rest stay, untried', async () => {
    for (const name of readdirSync(area)) rmSync(join(area, name));
    for (const spend of [1, 2, 3]) await setAsideBatch(keyId, spend, refuserUrl);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const away = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));

    const result = await replay(spoolDir, away);
    expect(result.code).toBe(1);
    expect(result.output.match(/^not sent /gm)).toHaveLength(1);
    expect(result.output).toContain('not tried: 2 more batches');
    expect(result.output).toMatch(/0 applied, 0 already applied, 0 refused again, 3 not sent; 3 kept/);
    expect(readdirSync(area)).toHaveLength(3);
  }, 60_000);
});
