/**
 * Real processes for the gateway's end-to-end tests: the admin plane, a gateway and the mock
 * upstream, each a `node --import tsx` child on a free port, plus small admin API helpers
 * written against API.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPricedTarget, expectStatus, keyCreator, masterKeyApi, type AdminApi } from './admin-api.js';
import { retryIfPortTaken } from './free-ports.js';
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
  /** A one-message chat completion through the gateway with `secret`, for `model`. */
  chat(secret: string, model: string): Promise<Response>;
  stop(): Promise<void>;
}

export interface StackOptions {
  push: boolean;
  gatewayEnv?: Record<string, string>;
}

/** Starts the stack on free ports, all of it again on new ones if one was taken meanwhile. */
export function startStack(options: StackOptions): Promise<Stack> {
  return retryIfPortTaken(() => startStackOnce(options));
}

async function startStackOnce(options: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-gw-e2e-'));
  const [adminPort, gatewayPort, mockPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const mockUrl = `http://127.0.0.1:${mockPort}`;
  const started: Spawned[] = [];
  try {
    const adminEnv = {
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_MASTER_KEY: MASTER_KEY,
      KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
      KEYGATE_GATEWAY_URLS: options.push ? gatewayUrl : '',
    };
    // The mock upstream and the admin plane do not depend on each other: both start at once
    // (each start is seconds of tsx under load); the gateway needs the admin plane up.
    const [mockStart, adminStart] = await Promise.allSettled([
      spawnTs('bench/mock-upstream.ts', { url: mockUrl, env: {}, args: ['--port', String(mockPort)] }),
      spawnTs('admin/main.ts', { url: adminUrl, env: adminEnv }),
    ]);
    if (mockStart.status === 'fulfilled') started.push(mockStart.value);
    if (adminStart.status === 'fulfilled') started.push(adminStart.value);
    if (mockStart.status === 'rejected') throw mockStart.reason;
    if (adminStart.status === 'rejected') throw adminStart.reason;
    const mock = mockStart.value;
    let admin = adminStart.value;
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
      chat: (secret, model) =>
        fetch(`${gatewayUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
        }),
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

/**
 * A stack (startStack) with `seed`'s org, team and targets, once its gateway has loaded the two
 * targets (within 3 s).
 */
export async function startSeededStack(
  options: Parameters<typeof startStack>[0],
  prefix: string,
): Promise<{ stack: Stack; data: Awaited<ReturnType<typeof seed>> }> {
  const stack = await startStack(options);
  try {
    const data = await seed(stack, prefix);
    await msUntil(
      Date.now(),
      () => fetch(`${stack.gatewayUrl}/readyz`),
      (_s, body) => body.targets === 2,
      3000,
    );
    return { stack, data };
  } catch (error) {
    await stack.stop();
    throw error;
  }
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
