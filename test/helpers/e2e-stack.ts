/**
 * Real processes for the gateway's end-to-end tests: the admin plane, a gateway and the mock
 * upstream, each a `node --import tsx` child on a free port, plus small admin API helpers
 * written against API.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPricedTarget, expectStatus, keyCreator, masterKeyApi, type AdminApi } from './admin-api.js';
import { freePort, spawnTs, type Spawned } from './processes.js';

export const MASTER_KEY = 'e2e-master-key-0123456789abcdef';
export const INTERNAL_SECRET = 'e2e-internal-secret-0123456789abcdefghij';

export interface Stack {
  admin: Spawned;
  gateway: Spawned;
  mock: Spawned;
  adminUrl: string;
  gatewayUrl: string;
  mockUrl: string;
  /** Kills the admin plane (SIGKILL) and starts it again on the same port and database. */
  killAdmin(): Promise<void>;
  restartAdmin(): Promise<void>;
  /** Admin API call with the master key. */
  api: AdminApi;
  stop(): Promise<void>;
}

export async function startStack(options: {
  push: boolean;
  gatewayEnv?: Record<string, string>;
}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-gw-e2e-'));
  const [adminPort, gatewayPort, mockPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const mockUrl = `http://127.0.0.1:${mockPort}`;
  const started: Spawned[] = [];
  try {
    const mock = await spawnTs('bench/mock-upstream.ts', {
      url: mockUrl,
      env: {},
      args: ['--port', String(mockPort)],
    });
    started.push(mock);
    const adminEnv = {
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_MASTER_KEY: MASTER_KEY,
      KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
      KEYGATE_GATEWAY_URLS: options.push ? gatewayUrl : '',
    };
    let admin = await spawnTs('admin/main.ts', { url: adminUrl, env: adminEnv });
    started.push(admin);
    const gateway = await spawnTs('gateway/main.ts', {
      url: gatewayUrl,
      readyPath: '/readyz',
      env: {
        KEYGATE_GATEWAY_PORT: String(gatewayPort),
        KEYGATE_ADMIN_URL: adminUrl,
        KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
        KEYGATE_USAGE_FLUSH_MS: '100',
        KEYGATE_SPOOL_DIR: join(dir, 'spool'),
        E2E_PROVIDER_KEY: 'sk-e2e-provider',
        // The mock upstream's per-request stream shape (x-mock-chunks, ...).
        KEYGATE_FORWARD_HEADERS: 'x-mock-*',
        ...options.gatewayEnv,
      },
    });
    started.push(gateway);
    return {
      get admin() {
        return admin;
      },
      gateway,
      mock,
      adminUrl,
      gatewayUrl,
      mockUrl,
      async killAdmin() {
        await admin.stop('SIGKILL');
      },
      async restartAdmin() {
        admin = await spawnTs('admin/main.ts', { url: adminUrl, env: adminEnv });
        started.splice(started.indexOf(gateway), 0, admin);
      },
      api: masterKeyApi(adminUrl, MASTER_KEY),
      async stop() {
        for (const process of started.reverse()) await process.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const process of started.reverse()) await process.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Creates `${prefix}` org + team + a target on the mock upstream; returns their ids. */
export async function seed(stack: Stack, prefix: string) {
  const org = expectStatus(await stack.api('POST', '/v1/orgs', { name: `${prefix}-org` }), 201, 'create org');
  const team = expectStatus(
    await stack.api('POST', '/v1/teams', { org_id: org.id, name: `${prefix}-team` }),
    201,
    'create team',
  );
  const target = await createPricedTarget(stack.api, stack.mockUrl, prefix);
  const other = expectStatus(
    await stack.api('POST', '/v1/targets', {
      name: `${prefix}-other`,
      upstream: { base_url: `${stack.mockUrl}/v1` },
    }),
    201,
    'create target',
  );
  return { org, team, target, other, createKey: keyCreator(stack.api, prefix, team.id) };
}

/** Polls the gateway until `done(status, body)`; returns ms from `since` to the first such answer. */
export async function msUntil(
  since: number,
  request: () => Promise<Response>,
  done: (status: number, body: any) => boolean,
  timeoutMs = 5000,
): Promise<number> {
  for (;;) {
    const response = await request();
    const text = await response.text();
    const at = Date.now();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    if (done(response.status, body)) return at - since;
    if (at - since > timeoutMs)
      throw new Error(`not effective after ${timeoutMs} ms (last ${response.status} ${text.slice(0, 200)})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
