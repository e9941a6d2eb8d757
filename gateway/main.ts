/**
 * Starts one gateway: wires the real parts (admin client, key cache, change follower, usage
 * reporter, admission, upstream client) into createGatewayApp and serves it, then keeps the
 * catalog and the change feed in sync. Runnable directly:
 * `node --import tsx gateway/main.ts` (configuration from the environment, API.md).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { BatchLoader } from '../src/cache/batch-loader.js';
import { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import { KeyPreloader } from '../src/cache/key-preloader.js';
import { systemClock, type Clock } from '../src/clock.js';
import { loadConfig, type Config } from '../src/config/config.js';
import { newId } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { changeApplier } from '../src/invalidation/change-applier.js';
import { coalescingRun } from '../src/invalidation/coalescing-run.js';
import { ChangeFollower } from '../src/invalidation/change-follower.js';
import { InternalTokens } from '../src/invalidation/internal-token.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import type { Admission } from '../src/policy/admission.js';
import { PeriodSpendStore } from '../src/budget/period-spend-store.js';
import { LimitsAdmission } from '../src/ratelimit/limits-admission.js';
import { startRedisMode } from './redis-mode.js';
import { isWorkerPrimary, runWorkerPrimary, workerId } from './workers.js';
import { AdminClient } from './admin-client.js';
import { providerCredentials } from '../src/policy/provider-credential.js';
import { AuthFailureThrottle, authFailureLimits } from '../src/ratelimit/auth-failure-throttle.js';
import { UnknownKeyLoadCap } from '../src/ratelimit/unknown-key-load-cap.js';
import { createGateway } from './app.js';
import { GatewayMetrics } from './metrics.js';
import { UpstreamClient } from './proxy/upstream-client.js';
import { TargetCatalog } from './target-catalog.js';
import { RequestLog } from './request-log.js';
import { RequestMetrics } from './request-metrics.js';
import { ShutdownController, type DrainResult } from './shutdown.js';
import { UsageReporter, type UsageStopSummary } from './usage/usage-reporter.js';
import { UsageSpool } from './usage/usage-spool.js';
import { RefusedBatches } from './usage/refused-batches.js';
import { usageSetAside } from './usage/set-aside.js';

export interface StartedGateway {
  url: string;
  port: number;
  gatewayId: string;
  /** Drains (up to KEYGATE_SHUTDOWN_TIMEOUT_MS), flushes usage, spools what could not be sent. */
  close(): Promise<GatewayStopReport>;
}

/** What a stop did: the drain, and where the usage went (logged; the exit code follows it). */
export interface GatewayStopReport {
  drain: DrainResult;
  usage: UsageStopSummary & { spooledBatches: number; spoolPath: string };
}

export interface StartGatewayOptions {
  logger?: Logger;
  /** Where provider credentials (a target's api_key_env) are read from; default the process environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** One clock for the whole gateway (cache expiry, windows, lag, admin contact); default the system clock. */
  clock?: Clock;
}

export async function startGateway(
  config: Config,
  options: StartGatewayOptions = {},
): Promise<StartedGateway> {
  // Buffered (async) stdout: one line per request must stay cheap (issue 13: ≤ 5 % of throughput).
  const logger = options.logger ?? createLogger(config.logLevel, 'keygate-gateway', { buffered: true });
  if (config.internalSecret === undefined) {
    throw new Error(
      'KEYGATE_INTERNAL_SECRET is required to run a gateway (it signs calls to the admin plane): ' +
        'set it to the same value as the admin plane’s, at least 32 characters (README "Running several gateways")',
    );
  }
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const gatewayId = config.gatewayId ?? newId('gw');
  const admin = new AdminClient({
    adminUrl: config.adminUrl,
    internalSecret: config.internalSecret,
    gatewayId,
    clock,
    loadTimeoutMs: config.adminLoadTimeoutMs,
  });

  // Exact windows and budgets (issue 4); `new CostOnlyAdmission()` is the no-limits alternative.
  // Embedded mode: counters and spend in this process (a Redis SpendStore/CounterStore plugs in here).
  // PeriodSpendStore: lifetime spend plus the current calendar period's (issue 14 budget periods).
  const spend = new PeriodSpendStore(clock);
  // Redis mode (REDIS_URL): shared counters and spend, per-process limiters while Redis is down.
  const redis =
    config.redis === undefined
      ? undefined
      : await startRedisMode(
          { ...config, redis: config.redis },
          { clock, logger, gatewayId, localSpend: spend },
        );
  const limits = new LimitsAdmission({ clock, spend });
  const admission: Admission = redis?.admission ?? limits;

  const keys = new KeyPolicyCache({
    // Concurrent misses travel as one POST /internal/keys batch (issue 15); unknown-key floods cost
    // at most KEYGATE_UNKNOWN_KEY_LOADS_PER_SEC admin loads per second.
    source: new UnknownKeyLoadCap(new BatchLoader({ source: admin }), config.unknownKeyLoadsPerSec, clock),
    clock,
    maxKeys: config.cacheMaxKeys,
    ttlMs: config.cacheTtlMs,
    negativeTtlMs: config.negativeCacheTtlMs,
    staleMs: config.cacheStaleMs,
    onLoaded: (policy) => spend.observe(policy),
  });
  const preloader = new KeyPreloader({ source: admin, cache: keys, keys: config.preloadKeys });
  const catalog = new TargetCatalog(admin);
  const feedLagMs = (): number | null => {
    const at = follower.lastSyncedAt;
    return at === undefined ? null : clock.now() - at;
  };
  const metrics = new GatewayMetrics({
    cacheStats: () => keys.stats,
    cacheSize: () => keys.size,
    lastSeq: () => follower.lastSeq,
    feedLagMs,
    redis: redis?.health,
  });
  const follower = new ChangeFollower({
    feed: admin,
    clock,
    // Evicts, then reloads the evicted keys at once (a revoked key's next request finds it refused).
    apply: changeApplier({ keys, reloadTargets: () => catalog.reload() }),
    onApplied: (_change, lagMs) => metrics.invalidationLagMs(lagMs),
    // The admin's change log went back (restored from a backup, or a new database), or holds
    // other changes than this gateway applied (restored, then written past its cursor): no seq can
    // name what changed, so every cached policy goes (without a seq: even those loaded from the
    // log's former, higher numbering) and the catalog is read again. The spend view takes the
    // restored store's next loads although their version and batch numbers went down.
    onReset: async (seq, reason) => {
      logger.warn(
        { seq, reason, lastSeq: follower.lastSeq },
        reason === 'behind'
          ? 'admin change log is behind this gateway (restored or replaced database): key cache dropped, targets reloaded'
          : 'admin change log holds other changes than this gateway applied (restored or replaced database): key cache dropped, targets reloaded',
      );
      spend.forgetLoadOrder();
      keys.invalidate({ all: true });
      await catalog.reload();
    },
  });
  // Usage is journaled as it is recorded; batches a previous run could not send go first.
  const { spool, recovered, skipped } = UsageSpool.open({ dir: config.spoolDir });
  if (skipped > 0) {
    // Torn by a kill or damaged on disk: their usage cannot be sent, so it is said, not dropped silently.
    logger.warn(
      { lines: skipped, dir: config.spoolDir },
      'usage spool lines that could not be read were skipped',
    );
  }
  const reporter = new UsageReporter({
    sink: admin,
    gatewayId,
    // Above every seq of a predecessor with the same KEYGATE_GATEWAY_ID (at most one batch per
    // flush, ≥ 10 ms apart): numbered from 1 again, its batches all counted as already applied
    // and, once applied, were counted twice in this process's budget view.
    firstBatchSeq: clock.now(),
    journal: spool,
    onSeal: (batchSeq) => spend.seal(batchSeq),
    onError: (error) => logger.warn({ err: error }, 'usage report not accepted; it will be sent again'),
    // Refused for good (a 4xx retrying cannot change): kept for `keygate usage replay`.
    setAside: usageSetAside(RefusedBatches.inSpool(config.spoolDir), logger, clock),
  });
  reporter.enqueue(recovered);
  const upstream = new UpstreamClient({
    timeoutMs: config.upstreamTimeoutMs,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    idleTimeoutMs: config.upstreamIdleTimeoutMs,
    maxResponseBytes: config.maxResponseBytes,
  });

  let inFlight = (): number => 0;
  const requestMetrics = new RequestMetrics(metrics.registry, {
    inFlight: () => inFlight(),
    breaker: () => admin.breaker,
    spool: () => ({
      bytes: spool.sizeBytes,
      unsentBatches: reporter.unsentBatches,
      refusedBatches: reporter.refusedBatches,
    }),
    revalidations: () => keys.stats.revalidations,
  });
  const gateway = createGateway({
    clock,
    keys,
    catalog,
    admission,
    upstream,
    usage: reporter,
    metrics,
    changes: follower,
    internalTokens: new InternalTokens(config.internalSecret),
    credential: providerCredentials(env, config),
    // This process's counters (memory mode); the shared ones in Redis mode.
    liveCounters: (policy: ResolvedKeyPolicy) => (redis ?? limits).liveCounters(policy),
    readiness: () => {
      const adminReachable = admin.lastContactAt > clock.now() - Math.max(3 * config.resyncIntervalMs, 3000);
      const cacheWarm = keys.size > 0;
      return {
        ready: catalog.loaded && (adminReachable || cacheWarm),
        adminReachable,
        cacheWarm,
        cachedKeys: keys.size,
        targets: catalog.size,
        changeFeed: { lastSeq: follower.lastSeq ?? null, lagMs: feedLagMs() },
        pendingUsageItems: reporter.pendingItems,
        refusedUsageBatches: reporter.refusedBatches,
        preload: preloader.progress,
        redis: redis?.status(),
        worker: workerId(),
      };
    },
    limits: {
      maxBodyBytes: config.maxBodyBytes,
      defaultMaxTokens: config.defaultMaxTokens,
      maxOutputTokens: config.maxOutputTokens,
    },
    forwardHeaders: config.forwardHeaders,
    metricsToken: config.metricsToken,
    onError: (error, requestId) => logger.error({ err: error, requestId }, 'gateway error'),
    requestLog: new RequestLog(logger, requestMetrics),
    authThrottle: new AuthFailureThrottle(authFailureLimits(config), {
      keyPrefix: 'gateway-auth',
      clock,
      // Redis mode: every replica and worker counts the same failures (in-memory insurance).
      createLimiter: redis?.authLimiter,
    }),
  });

  // Catalog first (it gives the starting seq), then the change feed on every tick. A tick that
  // lands while a sync is still running is not skipped (that would double the interval): it
  // runs once more right after, since the running pull may have read the feed before its change.
  const sync = coalescingRun(
    async () => {
      if (!catalog.loaded || follower.lastSeq === undefined) {
        const { seq, last } = await catalog.reload();
        follower.start(seq, last);
      } else await follower.pull();
    },
    (error) => logger.warn({ err: error }, 'admin plane sync failed; retrying'),
  );
  await sync();
  if (recovered.length > 0) {
    // Replayed before serving, so the keys' loaded spend includes it (no budget overshoot).
    await reporter.flush();
    const left = reporter.unsentBatches;
    logger.info(
      { batches: recovered.length, sent: recovered.length - left, kept: left, dir: config.spoolDir },
      left === 0 ? 'usage spool replayed' : 'usage spool replay incomplete (admin unreachable); retrying',
    );
  }
  // Pub/sub invalidations (Redis mode): the follower pulls the feed on every (re)subscription.
  redis?.subscribe(follower);
  // The periodic pull repairs lost pushes (DESIGN.md "Invalidation"); its default of 500 ms keeps
  // the 1 s promise with room for the pull's own round trip and a reload (docs/api.md).
  const syncTimer = setInterval(() => void sync(), config.resyncIntervalMs);
  syncTimer.unref();
  reporter.start(config.usageFlushMs);

  // The proxy routes go straight to node:http, the rest through Hono (createGateway in app.ts).
  // Slow clients (issue 10, item 13): headers and the whole request each have a deadline, checked
  // often enough that a short configured timeout is honoured; the answer itself is not limited.
  const server = createServer({
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(config.headersTimeoutMs / 4))),
  });
  server.maxConnections = config.maxConnections;
  const shutdown = new ShutdownController(server);
  server.on('request', shutdown.wrap(gateway.listener));
  inFlight = () => shutdown.inFlightCount;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    server.listen(config.gatewayPort, config.gatewayHost);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.gatewayHost}:${port}`;
  logger.info({ url, gatewayId, adminUrl: config.adminUrl }, 'gateway listening');
  // Warm start while serving (KEYGATE_PRELOAD_KEYS); /readyz shows the progress.
  void preloader.run().then((progress) => logger.info({ preload: progress }, 'key preload finished'));

  let closing: Promise<GatewayStopReport> | undefined;
  return {
    url,
    port,
    gatewayId,
    close: () =>
      (closing ??= (async () => {
        clearInterval(syncTimer);
        preloader.stop();
        const drain = await shutdown.drain(config.shutdownTimeoutMs);
        // Settlements still batched reach Redis, and their usage the report, before it stops.
        await redis?.flushSettlements();
        const usage = await reporter.stop();
        const spoolPath = spool.path;
        const spooledBatches = spool.close();
        await Promise.allSettled([upstream.close(), admin.close(), redis?.close()]);
        const report: GatewayStopReport = { drain, usage: { ...usage, spooledBatches, spoolPath } };
        logger.info(
          report,
          usage.unsentBatches === 0
            ? 'gateway stopped; all usage recorded by the admin plane'
            : `gateway stopped; ${usage.unsentRequests} requests of usage kept in the spool for the next start`,
        );
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
        return report;
      })()),
  };
}

const isEntryPoint = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntryPoint) {
  try {
    const config = loadConfig(process.env);
    if (isWorkerPrimary(config)) {
      runWorkerPrimary(config, (line) => process.stdout.write(`${line}\n`));
    } else {
      await runGateway(config);
    }
  } catch (error) {
    process.stderr.write(`keygate gateway: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

async function runGateway(config: Config): Promise<void> {
  const gateway = await startGateway(config);
  // Exit 0: all usage recorded by the admin plane; 75 (EX_TEMPFAIL): some kept in the spool
  // for the next start (nothing lost); 1: the stop itself failed.
  const stop = (): void => {
    gateway.close().then(
      (report) => process.exit(report.usage.unsentBatches === 0 ? 0 : 75),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
