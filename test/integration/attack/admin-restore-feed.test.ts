/**
 * An admin plane restored from a backup of its database, with gateways that kept running: the
 * restored change log ends below the seq the gateways had followed it to, so its next changes
 * carry seqs the gateways take for changes already applied. Seen: after the restore, a key
 * revoked through the admin API kept working at the gateway (pushed and pulled alike), because
 * the gateway asked for changes after its old cursor, got none, and ignored the revocation's
 * lower seq; the cached policy (loaded at the log's former head) would not even have been
 * evicted by a change of a lower seq. The promise is a refusal within 1 s.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
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

const SECRET = 'admin-restore-internal-secret-0123456789';
const MASTER = 'admin-restore-master-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'keygate-restore-'));
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

const models = (key: string) =>
  fetch(`http://127.0.0.1:${gatewayPort}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

describe('an admin plane restored from a backup', () => {
  it('a key revoked after the restore is refused by a gateway that followed the log past the backup', async () => {
    const org = await call('POST', '/v1/orgs', { name: 'o' });
    const team = await call('POST', '/v1/teams', { org_id: org.id, name: 't' });
    await call('POST', '/v1/targets', { name: 'm', upstream: { base_url: `${mock.url}/v1` } });
    const created = await call('POST', '/v1/keys', {
      name: 'k',
      team_id: team.id,
      owner: { type: 'service_account', create: { name: 'svc' } },
    });
    const secret = created.secret as string;
    const keyId = created.key.id as string;

    // The backup: the database as it is now (closed cleanly, so the file holds everything).
    await admin!.close();
    copyFileSync(dbPath, backupPath);
    admin = await startAdminPlane();

    gateway = await startGateway(
      loadConfig({
        KEYGATE_GATEWAY_PORT: String(gatewayPort),
        KEYGATE_ADMIN_URL: admin.url,
        KEYGATE_INTERNAL_SECRET: SECRET,
        KEYGATE_SPOOL_DIR: join(dir, 'spool'),
        KEYGATE_LOG_LEVEL: 'silent',
      }),
      { logger },
    );
    // Life goes on after the backup: 20 more changes, which the gateway follows.
    for (let i = 0; i < 20; i++) await call('PATCH', `/v1/teams/${team.id}`, { rpm_limit: 1000 + i });
    expect((await models(secret)).status).toBe(200);
    await eventually(
      async () => {
        const ready = (await (await fetch(`${gateway!.url}/readyz`)).json()) as any;
        return ready.changeFeed.lastSeq >= 20;
      },
      { what: 'the gateway following the log' },
    );

    // The admin plane's disk is lost; the backup is restored.
    await admin.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
    copyFileSync(backupPath, dbPath);
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
    admin = await startAdminPlane();

    await call('POST', `/v1/keys/${keyId}/revoke`);
    await eventually(
      async () => {
        const res = await models(secret);
        return res.status === 401 && ((await res.json()) as any).error.code === 'key_revoked';
      },
      { timeoutMs: 1500, intervalMs: 50, what: 'the revoked key refused' },
    );
  });
});
