/**
 * A scale-out deployment as real processes: one admin plane, N gateways (or one gateway with
 * node:cluster workers) and the mock upstream, all on free ports, every plane with the same
 * REDIS_URL and a key prefix of its own. HTTP pushes are disabled (KEYGATE_GATEWAY_URLS empty):
 * invalidations travel over Redis pub/sub, with the change-feed pull as the backstop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { createPricedTarget, expectStatus, keyCreator, masterKeyApi, type AdminApi } from './admin-api.js';
import { eventually } from './eventually.js';
import { retryIfPortTaken } from './free-ports.js';
import { freePort, spawnTs, type Spawned } from './processes.js';

/**
 * Client connections are kept idle for 1 s at most, well under the gateway's 5 s keep-alive, so a
 * burst never reuses a socket the gateway is closing at that moment (a reset, not a gateway fault).
 */
const clientAgent = new Agent({ keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000 });

export const MASTER_KEY = 'redis-e2e-master-key-0123456789';
export const INTERNAL_SECRET = 'redis-e2e-internal-secret-0123456789abcdef';

export interface RedisStack {
  admin: Spawned;
  gateways: Spawned[];
  mockUrl: string;
  /** Admin API call with the master key. */
  api: AdminApi;
  /** POST /v1/chat/completions on gateway `i` (round-robin over the gateways when omitted). */
  chat(secret: string, model: string, options?: { gateway?: number; maxTokens?: number }): Promise<Response>;
  stop(): Promise<void>;
}

export interface RedisStackOptions {
  redisUrl: string;
  prefix: string;
  gateways: number;
  /** Extra environment of every gateway (e.g. KEYGATE_GATEWAY_WORKERS). */
  gatewayEnv?: Record<string, string>;
}

/** Starts the stack on free ports, all of it again on new ones if one was taken meanwhile. */
export function startRedisStack(options: RedisStackOptions): Promise<RedisStack> {
  return retryIfPortTaken(() => startRedisStackOnce(options));
}

async function startRedisStackOnce(options: RedisStackOptions): Promise<RedisStack> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-redis-e2e-'));
  const started: Spawned[] = [];
  const shared = { REDIS_URL: options.redisUrl, KEYGATE_REDIS_PREFIX: options.prefix };
  try {
    const [mockPort, adminPort] = await Promise.all([freePort(), freePort()]);
    const mockUrl = `http://127.0.0.1:${mockPort}`;
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    // The mock upstream and the admin plane start at once; the gateways need the admin plane up.
    const [mockStart, adminStart] = await Promise.allSettled([
      spawnTs('bench/mock-upstream.ts', { url: mockUrl, env: {}, args: ['--port', String(mockPort)] }),
      spawnTs('admin/main.ts', {
        url: adminUrl,
        env: {
          ...shared,
          KEYGATE_DB_PATH: join(dir, 'keygate.db'),
          KEYGATE_ADMIN_PORT: String(adminPort),
          KEYGATE_MASTER_KEY: MASTER_KEY,
          KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
          KEYGATE_GATEWAY_URLS: '',
        },
      }),
    ]);
    for (const start of [mockStart, adminStart]) if (start.status === 'fulfilled') started.push(start.value);
    if (mockStart.status === 'rejected') throw mockStart.reason;
    if (adminStart.status === 'rejected') throw adminStart.reason;
    const admin = adminStart.value;
    // Settled, not Promise.all: the gateways that did start are stopped when one did not.
    const gatewayStarts = await Promise.allSettled(
      Array.from({ length: options.gateways }, async () => {
        const port = await freePort();
        return spawnTs('gateway/main.ts', {
          url: `http://127.0.0.1:${port}`,
          readyPath: '/readyz',
          env: {
            ...shared,
            KEYGATE_GATEWAY_PORT: String(port),
            KEYGATE_ADMIN_URL: adminUrl,
            KEYGATE_INTERNAL_SECRET: INTERNAL_SECRET,
            KEYGATE_USAGE_FLUSH_MS: '100',
            KEYGATE_REDIS_TIMEOUT_MS: '2000',
            E2E_PROVIDER_KEY: 'sk-e2e-provider',
            ...options.gatewayEnv,
          },
        });
      }),
    );
    for (const start of gatewayStarts) if (start.status === 'fulfilled') started.push(start.value);
    for (const start of gatewayStarts) if (start.status === 'rejected') throw start.reason;
    const gateways = gatewayStarts.map((start) => (start as PromiseFulfilledResult<Spawned>).value);
    // Redis mode is live on every gateway: the pub/sub subscription is up and caught up.
    await until(
      async () => {
        const states = await Promise.all(
          gateways.map(
            async (gateway) => ((await (await fetch(`${gateway.url}/readyz`)).json()) as any).redis,
          ),
        );
        return states.every((state) => state?.up === true && state?.subscribed === true);
      },
      20_000,
      'Redis mode live on every gateway',
    );
    let next = 0;
    return {
      admin,
      gateways,
      mockUrl,
      api: masterKeyApi(adminUrl, MASTER_KEY),
      chat(secret, model, chatOptions = {}) {
        const gateway = gateways[chatOptions.gateway ?? next++ % gateways.length]!;
        return undiciFetch(`${gateway.url}/v1/chat/completions`, {
          dispatcher: clientAgent,
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model,
            messages: [{ role: 'user', content: 'hi' }],
            ...(chatOptions.maxTokens === undefined ? {} : { max_tokens: chatOptions.maxTokens }),
          }),
        }) as unknown as Promise<Response>;
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

/** Org, team and a priced target on the mock upstream ($1 / $2 per million tokens). */
export async function seedOrg(stack: RedisStack, name: string, limits: { team?: object; org?: object } = {}) {
  const org = expectStatus(
    await stack.api('POST', '/v1/orgs', { name: `${name}-org`, ...limits.org }),
    201,
    'create org',
  );
  const team = expectStatus(
    await stack.api('POST', '/v1/teams', { org_id: org.id, name: `${name}-team`, ...limits.team }),
    201,
    'create team',
  );
  const target = await createPricedTarget(stack.api, stack.mockUrl, name);
  return { org, team, model: target.name as string, createKey: keyCreator(stack.api, name, team.id) };
}

/** Polls every 20 ms until `check` holds (or throws after `timeoutMs`). */
export function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return eventually(check, { timeoutMs, intervalMs: 20, what });
}
