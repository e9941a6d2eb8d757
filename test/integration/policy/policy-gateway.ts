/**
 * A gateway wired like gateway/main.ts (LimitsAdmission over a PeriodSpendStore, on a ManualClock)
 * with an in-memory KeySource (the admin plane is not under test here), a real mock upstream and
 * a real listening socket, for the issue 14 limits over HTTP.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMockUpstream, type MockUpstream } from '../../../bench/mock-upstream.js';
import { createGateway } from '../../../gateway/app.js';
import { GatewayMetrics } from '../../../gateway/metrics.js';
import { UpstreamClient } from '../../../gateway/proxy/upstream-client.js';
import { TargetCatalog } from '../../../gateway/target-catalog.js';
import { PeriodSpendStore } from '../../../src/budget/period-spend-store.js';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { ManualClock } from '../../../src/clock.js';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';
import { generateSecret, hashSecret } from '../../../src/keys/secret.js';
import { NO_LIMITS, type Limits } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../../../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { FakeKeySource, policyFor, targetRoute } from '../../helpers/gateway-fixtures.js';

const SECRET = 'policy-gateway-test-internal-secret-0123';

export interface PolicyGateway {
  url: string;
  clock: ManualClock;
  source: FakeKeySource;
  admission: LimitsAdmission;
  metrics: GatewayMetrics;
  usage: { keyId: string; spendMicros: number; tags: readonly string[] | undefined }[];
  tokens: InternalTokens;
  /** A fresh key; `key`, `team` give limits of those scopes (merged over no limits). */
  newKey(options?: {
    key?: Partial<Limits>;
    team?: Partial<Limits>;
    teamId?: string;
    policy?: Partial<ResolvedKeyPolicy>;
  }): { secret: string; hash: string };
  call(
    secret: string,
    model?: string,
    init?: { headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response>;
  close(): Promise<void>;
}

export async function startPolicyGateway(startMs: number, internalSecret = SECRET): Promise<PolicyGateway> {
  const mock: MockUpstream = await startMockUpstream({ chunks: 3, chunkDelayMs: 0 });
  const clock = new ManualClock(startMs);
  const source = new FakeKeySource();
  const spend = new PeriodSpendStore(clock);
  const admission = new LimitsAdmission({ clock, spend });
  const keys = new KeyPolicyCache({
    source,
    clock,
    maxKeys: 1000,
    ttlMs: 86_400_000 * 60,
    negativeTtlMs: 10_000,
    onLoaded: (policy) => spend.observe(policy),
  });
  const targets: TargetRoute[] = [
    targetRoute('plain', `${mock.url}/v1`),
    targetRoute('failing', `${mock.url}/v1`, { upstreamModel: 'mock-fail-503' }),
    targetRoute('stalling', `${mock.url}/v1`, { upstreamModel: 'mock-stall' }),
    targetRoute('exploding', `${mock.url}/v1`, { apiKeyEnv: 'EXPLODE' }),
  ];
  const catalog = new TargetCatalog({ targets: async () => ({ seq: 0, targets }) });
  catalog.replace(targets);
  const metrics = new GatewayMetrics({
    cacheStats: () => keys.stats,
    cacheSize: () => keys.size,
    lastSeq: () => undefined,
    feedLagMs: () => 0,
  });
  const usage: PolicyGateway['usage'] = [];
  const upstream = new UpstreamClient({ timeoutMs: 10_000 });
  const tokens = new InternalTokens(internalSecret);
  const { listener } = createGateway({
    clock,
    keys,
    catalog,
    admission,
    upstream,
    usage: {
      record: (keyId, _t, _i, _o, spendMicros, _at, tags) => usage.push({ keyId, spendMicros, tags }),
    },
    metrics,
    changes: { receive: async () => undefined },
    internalTokens: tokens,
    credential: (name) => {
      if (name === 'EXPLODE') throw new Error('injected: credential lookup failed');
      return undefined;
    },
    readiness: () => ({ ready: true }),
    limits: { maxBodyBytes: 64 * 1024, defaultMaxTokens: 256, maxOutputTokens: 100_000 },
    liveCounters: (policy) => admission.liveCounters(policy),
    // The mock upstream's per-request stream shape (x-mock-chunks, ...) must reach it.
    forwardHeaders: ['x-mock-*'],
    onError: () => undefined,
  });
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    clock,
    source,
    admission,
    metrics,
    usage,
    tokens,
    newKey(options = {}) {
      const secret = generateSecret();
      const hash = hashSecret(secret);
      const base = policyFor(hash, { effectiveTargets: targets.map((t) => t.name) });
      source.policies.set(hash, {
        ...base,
        key: { ...base.key, limits: { ...NO_LIMITS, ...options.key } },
        team: { ...base.team, id: options.teamId ?? base.team.id, limits: { ...NO_LIMITS, ...options.team } },
        ...options.policy,
      });
      return { secret, hash };
    },
    call(secret, model = 'plain', init = {}) {
      return fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...init.headers },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 9 }),
        signal: init.signal,
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await upstream.close();
      await mock.close();
    },
  };
}

/** The error code and param of a refusal (and the body consumed). */
export async function refusalOf(
  response: Response,
): Promise<{ status: number; code?: string; param?: string | null }> {
  const body = (await response.json()) as { error?: { code: string; param: string | null } };
  return { status: response.status, code: body.error?.code, param: body.error?.param };
}

/** Polls `check` on the event loop (no fixed sleeps) until it holds, for at most `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
