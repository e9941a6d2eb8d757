/**
 * The gateway's Prometheus registry (its own, not prom-client's global one). The hot path only
 * bumps plain numbers and observes one label-free histogram; counters are copied into the
 * registry at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KeyCacheStats } from '../src/cache/key-policy-cache.js';

export interface MetricsSources {
  cacheStats: () => KeyCacheStats;
  cacheSize: () => number;
  lastSeq: () => number | undefined;
  feedLagMs: () => number | null;
  /** Redis mode only: connection health and fallback counts. */
  redis?: { readonly up: boolean; readonly outages: number; readonly fallbackAdmissions: number };
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly outcomes = new Map<string, number>();
  private readonly decision: Histogram;
  private readonly invalidationLag: Histogram;
  private readonly shadowRefusals: Counter;

  constructor(sources: MetricsSources) {
    const outcomes = this.outcomes;
    new Counter({
      name: 'keygate_gateway_requests_total',
      help: 'Gateway requests by outcome code (ok, an error code, or upstream_<status>)',
      labelNames: ['code'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [code, count] of outcomes) this.inc({ code }, count);
      },
    });
    this.shadowRefusals = new Counter({
      name: 'keygate_shadow_refusals_total',
      help: 'Admitted requests a shadow limit would have refused, by scope and limit',
      labelNames: ['scope', 'limit'],
      registers: [this.registry],
    });
    this.decision = new Histogram({
      name: 'keygate_gateway_decision_seconds',
      help: 'Time from request arrival to the admit/refuse decision (before the upstream call)',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
      registers: [this.registry],
    });
    this.invalidationLag = new Histogram({
      name: 'keygate_gateway_invalidation_lag_seconds',
      help: 'Time from a committed admin change to its application on this gateway',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30],
      registers: [this.registry],
    });
    const cacheCounter = (name: string, help: string, read: (stats: KeyCacheStats) => number): void => {
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read(sources.cacheStats()));
        },
      });
    };
    cacheCounter('keygate_gateway_key_cache_hits_total', 'Key policy cache hits', (s) => s.hits);
    cacheCounter('keygate_gateway_key_cache_misses_total', 'Key policy cache misses', (s) => s.misses);
    cacheCounter('keygate_gateway_key_cache_loads_total', 'Loads from the admin plane', (s) => s.loads);
    cacheCounter('keygate_gateway_key_cache_load_errors_total', 'Failed loads', (s) => s.loadErrors);
    cacheCounter(
      'keygate_gateway_key_cache_negative_hits_total',
      'Unknown hashes answered from the negative cache',
      (s) => s.negativeHits,
    );
    cacheCounter(
      'keygate_gateway_key_cache_stale_served_total',
      'Stale entries served while the admin plane failed',
      (s) => s.staleServed,
    );
    cacheCounter(
      'keygate_gateway_key_cache_discarded_loads_total',
      'Loads discarded because an invalidation raced them',
      (s) => s.discardedLoads,
    );
    new Gauge({
      name: 'keygate_gateway_key_cache_entries',
      help: 'Cached key policies',
      registers: [this.registry],
      collect() {
        this.set(sources.cacheSize());
      },
    });
    new Gauge({
      name: 'keygate_gateway_change_seq',
      help: 'Highest change-log seq applied contiguously',
      registers: [this.registry],
      collect() {
        this.set(sources.lastSeq() ?? -1);
      },
    });
    new Gauge({
      name: 'keygate_gateway_change_feed_lag_seconds',
      help: 'Time since the last successful change-feed sync',
      registers: [this.registry],
      collect() {
        const lag = sources.feedLagMs();
        this.set(lag === null ? -1 : lag / 1000);
      },
    });
    const redis = sources.redis;
    if (redis !== undefined) {
      new Gauge({
        name: 'keygate_gateway_redis_up',
        help: 'Redis mode: 1 while Redis answers, 0 while limits fall back to this process',
        registers: [this.registry],
        collect() {
          this.set(redis.up ? 1 : 0);
        },
      });
      new Counter({
        name: 'keygate_gateway_redis_outages_total',
        help: 'Redis mode: times Redis became unreachable',
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(redis.outages);
        },
      });
      new Counter({
        name: 'keygate_gateway_redis_fallback_admissions_total',
        help: 'Redis mode: requests decided without Redis (per-process limits, or budget_unavailable)',
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(redis.fallbackAdmissions);
        },
      });
    }
    collectDefaultMetrics({ register: this.registry, prefix: 'keygate_gateway_' });
  }

  /** A shadow limit (issue 14 item 8) would have refused an admitted request: `key_rpm`, ... */
  shadowRefusal(param: string): void {
    const cut = param.indexOf('_');
    this.shadowRefusals.inc({ scope: param.slice(0, cut), limit: param.slice(cut + 1) });
  }

  /** One request finished with this outcome code. */
  outcome(code: string): void {
    this.outcomes.set(code, (this.outcomes.get(code) ?? 0) + 1);
  }

  outcomeCount(code: string): number {
    return this.outcomes.get(code) ?? 0;
  }

  decisionSeconds(seconds: number): void {
    this.decision.observe(seconds);
  }

  invalidationLagMs(ms: number): void {
    this.invalidationLag.observe(Math.max(0, ms) / 1000);
  }
}
