/**
 * Real processes for the fault tests: an admin plane and a gateway (restartable on the same
 * port and spool directory), with an in-process fault upstream (fault-upstream.ts), plus the
 * figures the tests compare: requests served (200 answers) and requests recorded (usage_hourly
 * in the admin's SQLite file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, spawnTs, type Spawned } from '../helpers/processes.js';
import { createFaultUpstream } from './fault-upstream.js';

export const MASTER_KEY = 'faults-master-key-0123456789abcdef';
export const INTERNAL_SECRET = 'faults-internal-secret-0123456789abcdefghij';

export interface FaultStack {
  dir: string;
  dbPath: string;
  spoolDir: string;
  admin: Spawned;
  gateway: Spawned;
  gatewayUrl: string;
  upstreamUrl: string;
  startGateway(env?: Record<string, string>): Promise<Spawned>;
  /** Starts the admin plane again on the same port and database (after it was killed). */
  restartAdmin(): Promise<Spawned>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Creates org, team, a priced target per model name, and a key; returns its secret. */
  seed(models: string[]): Promise<string>;
  chat(secret: string, model: string, extra?: Record<string, unknown>): Promise<Response>;
  recordedRequests(): number;
  recordedOutputTokens(): number;
  stop(): Promise<void>;
}

export async function startFaultStack(gatewayEnv: Record<string, string> = {}): Promise<FaultStack> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-faults-'));
  const dbPath = join(dir, 'keygate.db');
  const spoolDir = join(dir, 'spool');
  const upstream = createFaultUpstream();
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const [adminPort, gatewayPort] = [await freePort(), await freePort()];
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const adminEnv = {
    KEYGATE_DB_PATH: dbPath,
    KEYGATE_ADMIN_PORT: String(adminPort),
    KEYGATE_MASTER_KEY: MASTER_KEY,
    KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
    KEYGATE_GATEWAY_URLS: gatewayUrl,
  };
  const admin = await spawnTs('admin/main.ts', { url: adminUrl, env: adminEnv });
  const gateways: Spawned[] = [];
  const startGateway = async (env: Record<string, string> = {}): Promise<Spawned> => {
    const gateway = await spawnTs('gateway/main.ts', {
      url: gatewayUrl,
      readyPath: '/healthz',
      env: {
        KEYGATE_GATEWAY_PORT: String(gatewayPort),
        KEYGATE_ADMIN_URL: adminUrl,
        KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
        KEYGATE_SPOOL_DIR: spoolDir,
        KEYGATE_LOG_LEVEL: 'info',
        ...gatewayEnv,
        ...env,
      },
    });
    gateways.push(gateway);
    stack.gateway = gateway;
    return gateway;
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${adminUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  const sum = (column: string): number => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return (db.prepare(`SELECT IFNULL(SUM(${column}), 0) AS n FROM usage_hourly`).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const stack: FaultStack = {
    dir,
    dbPath,
    spoolDir,
    admin,
    gateway: undefined as unknown as Spawned,
    gatewayUrl,
    upstreamUrl,
    startGateway,
    async restartAdmin() {
      stack.admin = await spawnTs('admin/main.ts', { url: adminUrl, env: adminEnv });
      return stack.admin;
    },
    api,
    async seed(models) {
      const org = (await api('POST', '/v1/orgs', { name: 'faults-org' })).body;
      const team = (await api('POST', '/v1/teams', { org_id: org.id, name: 'faults-team' })).body;
      for (const model of models) {
        const created = await api('POST', '/v1/targets', {
          name: model,
          upstream: { base_url: `${upstreamUrl}/v1` },
          pricing: { input_per_mtok: 1, output_per_mtok: 2 },
        });
        if (created.status !== 201) throw new Error(`target ${model}: ${JSON.stringify(created.body)}`);
      }
      const key = await api('POST', '/v1/keys', {
        name: 'faults-key',
        team_id: team.id,
        owner: { type: 'service_account', create: { name: 'faults-svc' } },
      });
      if (key.status !== 201) throw new Error(`key: ${JSON.stringify(key.body)}`);
      const secret = key.body.secret as string;
      // Until the gateway has the new targets (push or feed pull), they would answer 404.
      const known = async (): Promise<boolean> => {
        const response = await fetch(`${gatewayUrl}/v1/models`, {
          headers: { authorization: `Bearer ${secret}` },
        });
        const body = (await response.json()) as { data?: { id: string }[] };
        const ids = new Set((body.data ?? []).map((model) => model.id));
        return models.every((model) => ids.has(model));
      };
      const deadline = Date.now() + 10_000;
      while (!(await known())) {
        if (Date.now() > deadline) throw new Error('the gateway never listed the seeded targets');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return secret;
    },
    chat(secret, model, extra = {}) {
      return fetch(`${gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, ...extra }),
      });
    },
    recordedRequests: () => sum('requests'),
    recordedOutputTokens: () => sum('output_tokens'),
    async stop() {
      for (const gateway of gateways) await gateway.stop('SIGKILL');
      await admin.stop('SIGKILL');
      if (stack.admin !== admin) await stack.admin.stop('SIGKILL');
      await new Promise<void>((resolve) => (upstream as Server).close(() => resolve()));
      upstream.closeAllConnections();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await startGateway();
  return stack;
}

/** Polls until `check()` is true or `timeoutMs` passed; returns whether it became true. */
export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}
