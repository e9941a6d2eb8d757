/**
 * Real processes for the gateway's end-to-end tests: the admin plane, a gateway and the mock
 * upstream, each a `node --import tsx` child on a free port, plus small admin API helpers
 * written against API.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
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
      async api(method, path, body) {
        const response = await fetch(`${adminUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await response.text();
        return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
      },
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
  const expectStatus = (result: { status: number; body: any }, status: number, what: string) => {
    if (result.status !== status) throw new Error(`${what}: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  };
  const org = expectStatus(await stack.api('POST', '/v1/orgs', { name: `${prefix}-org` }), 201, 'create org');
  const team = expectStatus(
    await stack.api('POST', '/v1/teams', { org_id: org.id, name: `${prefix}-team` }),
    201,
    'create team',
  );
  const target = expectStatus(
    await stack.api('POST', '/v1/targets', {
      name: `${prefix}-model`,
      upstream: { base_url: `${stack.mockUrl}/v1`, model: 'mock-model', api_key_env: 'E2E_PROVIDER_KEY' },
      pricing: { input_per_mtok: 1, output_per_mtok: 2 },
    }),
    201,
    'create target',
  );
  const other = expectStatus(
    await stack.api('POST', '/v1/targets', {
      name: `${prefix}-other`,
      upstream: { base_url: `${stack.mockUrl}/v1` },
    }),
    201,
    'create target',
  );
  const createKey = async (extra: Record<string, unknown> = {}) =>
    expectStatus(
      await stack.api('POST', '/v1/keys', {
        name: `${prefix}-key`,
        team_id: team.id,
        owner: {
          type: 'service_account',
          create: { name: `${prefix}-svc-${Math.random().toString(36).slice(2, 8)}` },
        },
        ...extra,
      }),
      201,
      'create key',
    ) as { key: { id: string }; secret: string };
  return { org, team, target, other, createKey };
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
