/**
 * The gateway wired and served like gateway/main.ts, but with an in-memory KeySource and change feed
 * (fakes of the admin plane, which is not under test here), a real mock upstream and a real
 * listening socket for what only sockets show (streaming, disconnects).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeyPolicyCache } from '../../src/cache/key-policy-cache.js';
import { ManualClock } from '../../src/clock.js';
import { changeEffect } from '../../src/invalidation/change-effect.js';
import { ChangeFollower } from '../../src/invalidation/change-follower.js';
import type { ChangeBatch } from '../../src/invalidation/change.js';
import { InternalTokens } from '../../src/invalidation/internal-token.js';
import { generateSecret, hashSecret } from '../../src/keys/secret.js';
import type { Admission } from '../../src/policy/admission.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../../src/policy/resolved-policy.js';
import { createGateway, type Gateway, type GatewayDeps } from '../../gateway/app.js';
import { CostOnlyAdmission } from '../../gateway/cost-only-admission.js';
import { GatewayMetrics } from '../../gateway/metrics.js';
import { UpstreamClient } from '../../gateway/proxy/upstream-client.js';
import { TargetCatalog } from '../../gateway/target-catalog.js';
import { startMockUpstream, type MockUpstream } from '../../bench/mock-upstream.js';
import { FakeKeySource, policyFor, targetRoute } from './gateway-fixtures.js';

export const INTERNAL_SECRET = 'gateway-test-internal-secret-0123456789';

/** Wraps a real admission (CostOnlyAdmission by default) and records which of settle/release/abort ran. */
export class RecordingAdmission implements Admission {
  constructor(readonly inner: Admission = new CostOnlyAdmission()) {}
  readonly calls: {
    kind: 'settle' | 'release' | 'abort';
    usage?: { inputTokens: number; outputTokens: number };
  }[] = [];
  readonly observed: ResolvedKeyPolicy[] = [];
  refuse: Awaited<ReturnType<Admission['admit']>> | undefined;
  admit: Admission['admit'] = (request) =>
    this.refuse !== undefined ? Promise.resolve(this.refuse) : this.inner.admit(request);
  settle: Admission['settle'] = (ticket, usage) => {
    this.calls.push({ kind: 'settle', usage });
    return this.inner.settle(ticket, usage);
  };
  release: Admission['release'] = (ticket) => {
    this.calls.push({ kind: 'release' });
    return this.inner.release(ticket);
  };
  abort: Admission['abort'] = (ticket) => {
    this.calls.push({ kind: 'abort' });
    return this.inner.abort(ticket);
  };
}

export interface Harness {
  url: string;
  mock: MockUpstream;
  source: FakeKeySource;
  keys: KeyPolicyCache;
  catalog: TargetCatalog;
  clock: ManualClock;
  admission: RecordingAdmission;
  usage: {
    keyId: string;
    target: string;
    inputTokens: number;
    outputTokens: number;
    spendMicros: number;
    /** The request's tags (only when it had some). */
    tags?: readonly string[];
  }[];
  metrics: GatewayMetrics;
  tokens: InternalTokens;
  feedLog: ChangeBatch['changes'];
  /** The Hono app (`app.request` runs the same proxy logic without sockets). */
  app: Gateway['app'];
  /** A fresh active key allowed to call `targets` (default every catalog target). */
  newKey(overrides?: Partial<ResolvedKeyPolicy>): string;
  internalAuth(): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(
  options: {
    /** The gateway's clock (default: a ManualClock at now). */
    clock?: ManualClock;
    cacheMaxKeys?: number;
    /** The cached key policy's TTL (default 60 s). */
    cacheTtlMs?: number;
    /** Called with every policy the cache loads (e.g. a spend store's observe). */
    onLoaded?: (policy: ResolvedKeyPolicy) => void;
    /** The secret of the gateway's internal routes (default INTERNAL_SECRET). */
    internalSecret?: string;
    upstreamTimeoutMs?: number;
    chunks?: number;
    chunkDelayMs?: number;
    extraTargets?: TargetRoute[];
    /** The admission behind the recording wrapper (default CostOnlyAdmission). */
    admission?: Admission;
    /** Changes the wired dependencies before the gateway is built (inject failures). */
    deps?: (deps: GatewayDeps) => GatewayDeps;
  } = {},
): Promise<Harness> {
  const mock = await startMockUpstream({
    chunks: options.chunks ?? 5,
    chunkDelayMs: options.chunkDelayMs ?? 0,
  });
  const clock = options.clock ?? new ManualClock(Date.now());
  const source = new FakeKeySource();
  const admission = new RecordingAdmission(options.admission);
  const keys = new KeyPolicyCache({
    source,
    clock,
    maxKeys: options.cacheMaxKeys ?? 1000,
    ttlMs: options.cacheTtlMs ?? 60_000,
    negativeTtlMs: 10_000,
    onLoaded: (policy) => {
      admission.observed.push(policy);
      options.onLoaded?.(policy);
    },
  });
  const targets: TargetRoute[] = [
    targetRoute('gpt-test', `${mock.url}/v1`, { upstreamModel: 'mock-model', apiKeyEnv: 'PROVIDER_KEY' }),
    targetRoute('plain', `${mock.url}/v1`),
    targetRoute('failing', `${mock.url}/v1`, { upstreamModel: 'mock-fail-503' }),
    targetRoute('stalling', `${mock.url}/v1`, { upstreamModel: 'mock-stall' }),
    ...(options.extraTargets ?? []),
  ];
  const catalog = new TargetCatalog({ targets: async () => ({ seq: 0, targets }) });
  catalog.replace(targets);
  const feedLog: ChangeBatch['changes'] = [];
  const follower = new ChangeFollower({
    feed: {
      changesAfter: async (after, limit) => {
        const changes = feedLog.filter((c) => c.seq > after).slice(0, limit);
        return { seq: changes.at(-1)?.seq ?? Math.max(after, feedLog.at(-1)?.seq ?? 0), changes };
      },
    },
    clock,
    apply: async (change) => {
      const effect = changeEffect(change);
      if (effect.kind === 'evict') keys.invalidate(effect.invalidation);
      else if (effect.kind === 'reload_targets') {
        keys.invalidate({ all: true });
        await catalog.reload();
      }
    },
  });
  follower.start(0);
  const metrics = new GatewayMetrics({
    cacheStats: () => keys.stats,
    cacheSize: () => keys.size,
    lastSeq: () => follower.lastSeq,
    feedLagMs: () => 0,
  });
  const usage: Harness['usage'] = [];
  const upstream = new UpstreamClient({ timeoutMs: options.upstreamTimeoutMs ?? 10_000 });
  const tokens = new InternalTokens(options.internalSecret ?? INTERNAL_SECRET);
  const wire = options.deps ?? ((deps: GatewayDeps) => deps);
  const { app, listener } = createGateway(
    wire({
      clock,
      keys,
      catalog,
      admission,
      upstream,
      usage: {
        record: (keyId, target, inputTokens, outputTokens, spendMicros, _at, tags) =>
          usage.push({
            keyId,
            target,
            inputTokens,
            outputTokens,
            spendMicros,
            ...(tags === undefined ? {} : { tags }),
          }),
      },
      metrics,
      changes: follower,
      internalTokens: tokens,
      credential: (name) => (name === 'PROVIDER_KEY' ? 'sk-provider-secret' : undefined),
      readiness: () => ({ ready: true }),
      limits: { maxBodyBytes: 64 * 1024, defaultMaxTokens: 256, maxOutputTokens: 4096 },
      forwardHeaders: ['x-custom', 'x-mock-*'],
    }),
  );
  // Served like gateway/main.ts: the proxy routes on node:http directly, the rest through Hono.
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    mock,
    source,
    keys,
    catalog,
    clock,
    admission,
    usage,
    metrics,
    tokens,
    feedLog,
    app,
    newKey(overrides = {}) {
      const secret = generateSecret();
      const hash = hashSecret(secret);
      source.policies.set(
        hash,
        policyFor(hash, { effectiveTargets: targets.map((t) => t.name), ...overrides }),
      );
      return secret;
    },
    internalAuth: () => tokens.authorizationHeader(),
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
