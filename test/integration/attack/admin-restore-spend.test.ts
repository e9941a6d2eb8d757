/**
 * An admin plane restored from a backup, with a gateway that kept running (embedded mode, the
 * in-memory spend view). The gateway orders spend loads by the change log's head (`version`) and
 * the usage batch they include; the restored database numbers both from the backup's, lower
 * values, so the gateway ignored every load of the restored store until the numbering caught up:
 * it kept deciding on the spend it held before the restore. Seen: a key whose restored spend is
 * $0 of a $5 budget stayed refused with `budget_exceeded` after the restore, although its cached
 * policy was dropped and reloaded (admin-restore-feed.test.ts). The gateway must decide on the
 * restored store's spend once it notices the log went back.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type RunningAdmin } from '../../../admin/main.js';
import { startMockUpstream, type MockUpstream } from '../../../bench/mock-upstream.js';
import { startGateway } from '../../../gateway/main.js';
import { loadConfig } from '../../../src/config/config.js';
import { eventually } from '../../helpers/eventually.js';
import { freePort } from '../../helpers/processes.js';

const SECRET = 'admin-restore-spend-secret-0123456789';
const MASTER = 'admin-restore-spend-master-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'keygate-restore-spend-'));
const dbPath = join(dir, 'keygate.db');
const backupPath = join(dir, 'backup.db');
const logger = pino({ level: 'silent' });

let adminPort: number;
let gatewayPort: number;
let admin: RunningAdmin | undefined;
let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
let mock: MockUpstream;

const startAdminPlane = () =>
  startAdmin(
    loadConfig({
      KEYGATE_DB_PATH: dbPath,
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_MASTER_KEY: MASTER,
      KEYGATE_INTERNAL_SECRET: SECRET,
      KEYGATE_GATEWAY_URLS: `http://127.0.0.1:${gatewayPort}`,
      KEYGATE_LOG_LEVEL: 'silent',
    }),
    { logger },
  );

beforeAll(async () => {
  mock = await startMockUpstream();
  adminPort = await freePort();
  gatewayPort = await freePort();
  admin = await startAdminPlane();
});
afterAll(async () => {
  await gateway?.close();
  await admin?.close();
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const res = await undiciFetch(`${admin!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    // A fresh connection each time: the admin plane restarts on the same port.
    dispatcher: new Agent({ pipelining: 0 }),
  });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as Record<string, any>;
}

const chat = (key: string) =>
  fetch(`http://127.0.0.1:${gatewayPort}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'm',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
    }),
  });

describe('an admin plane restored from a backup, and the gateway spend view', () => {
  it('after the restore the gateway decides on the restored spend, not on the spend it held before', async () => {
    const org = await call('POST', '/v1/orgs', { name: 'o' });
    const team = await call('POST', '/v1/teams', { org_id: org.id, name: 't' });
    await call('POST', '/v1/targets', {
      name: 'm',
      upstream: { base_url: `${mock.url}/v1` },
      // $0.01 a token: one request of ~100 prompt tokens costs about $1.
      pricing: { input_per_mtok: 10_000, output_per_mtok: 10_000 },
    });
    const created = await call('POST', '/v1/keys', {
      name: 'k',
      team_id: team.id,
      max_budget: 5,
      owner: { type: 'service_account', create: { name: 'svc' } },
    });
    const secret = created.secret as string;
    const keyId = created.key.id as string;

    // The backup: the key has spent nothing yet.
    await admin!.close();
    copyFileSync(dbPath, backupPath);
    admin = await startAdminPlane();
    gateway = await startGateway(
      loadConfig({
        KEYGATE_GATEWAY_PORT: String(gatewayPort),
        KEYGATE_ADMIN_URL: admin.url,
        KEYGATE_INTERNAL_SECRET: SECRET,
        KEYGATE_SPOOL_DIR: join(dir, 'spool'),
        KEYGATE_USAGE_FLUSH_MS: '50',
        KEYGATE_LOG_LEVEL: 'silent',
      }),
      { logger },
    );

    // Life goes on: the key spends its budget (reported to the admin), then 20 changes follow.
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      const res = await chat(secret);
      await res.arrayBuffer();
      refused = res.status === 429;
    }
    expect(refused).toBe(true);
    await eventually(async () => (await call('GET', `/v1/keys/${keyId}`)).spend >= 3, {
      what: 'the spend reported to the admin plane',
    });
    for (let i = 0; i < 20; i++) await call('PATCH', `/v1/teams/${team.id}`, { rpm_limit: 1000 + i });
    await eventually(
      async () => ((await (await fetch(`${gateway!.url}/readyz`)).json()) as any).changeFeed.lastSeq >= 20,
      { what: 'the gateway following the log' },
    );
    expect((await chat(secret)).status).toBe(429);

    // The admin plane's disk is lost; the backup (spend $0) is restored.
    await admin.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
    copyFileSync(backupPath, dbPath);
    admin = await startAdminPlane();
    expect((await call('GET', `/v1/keys/${keyId}`)).spend).toBe(0);
    await call('PATCH', `/v1/keys/${keyId}`, { name: 'k-restored' });

    await eventually(
      async () => {
        const res = await chat(secret);
        await res.arrayBuffer();
        return res.status === 200;
      },
      { timeoutMs: 2000, intervalMs: 100, what: 'the key admitted on its restored spend' },
    );
  });
});
