/**
 * The gateway's labelled metrics (issue 13, item 14), registered on GatewayMetrics' registry.
 * Labels are team, target and code, never key: cardinality is bounded by teams × targets ×
 * codes (documented in README "Metrics"). The hot path bumps plain numbers in one map per
 * request; they are copied into prom-client at scrape time. Upstream latency is a histogram per
 * target (prom-client child, observed once per answered request).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BreakerState } from './circuit-breaker.js';
import type { RequestMetricsSink, RequestTrace } from './request-log.js';

export interface RequestMetricsSources {
  inFlight: () => number;
  breaker: () => { state: BreakerState; failures: number; rejected: number };
  spool: () => { bytes: number; unsentBatches: number; refusedBatches: number };
  revalidations: () => number;
}

interface Totals {
  team: string;
  target: string;
  code: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costMicros: number;
}

const BREAKER_STATE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export class RequestMetrics implements RequestMetricsSink {
  private readonly totals = new Map<string, Totals>();
  private readonly upstream: Histogram<'target'>;

  constructor(registry: Registry, sources: RequestMetricsSources) {
    const totals = this.totals;
    const labelled = (name: string, help: string, read: (t: Totals) => number, extra?: string): void => {
      new Counter({
        name,
        help,
        labelNames: extra === undefined ? ['team', 'target', 'code'] : ['team', 'target'],
        registers: [registry],
        collect() {
          this.reset();
          for (const t of totals.values()) {
            const value = read(t);
            if (value === 0) continue;
            if (extra === undefined) this.inc({ team: t.team, target: t.target, code: t.code }, value);
            else this.inc({ team: t.team, target: t.target }, value);
          }
        },
      });
    };
    labelled(
      'keygate_gateway_proxy_requests_total',
      'Proxied requests by team, target and outcome code',
      (t) => t.requests,
    );
    labelled(
      'keygate_gateway_input_tokens_total',
      'Input tokens charged, by team and target',
      (t) => t.inputTokens,
      'x',
    );
    labelled(
      'keygate_gateway_output_tokens_total',
      'Output tokens charged, by team and target',
      (t) => t.outputTokens,
      'x',
    );
    labelled(
      'keygate_gateway_spend_micros_total',
      'Spend charged in micro-USD, by team and target',
      (t) => t.costMicros,
      'x',
    );
    this.upstream = new Histogram({
      name: 'keygate_gateway_upstream_latency_seconds',
      help: 'Time from sending to the upstream until its answer (headers; SSE: the stream start)',
      labelNames: ['target'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers: [registry],
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    };
    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    gauge('keygate_gateway_in_flight_requests', 'Requests being served now', sources.inFlight);
    counter(
      'keygate_gateway_admin_errors_total',
      'Failed key loads from the admin plane',
      () => sources.breaker().failures,
    );
    counter(
      'keygate_gateway_admin_breaker_rejected_total',
      'Key loads refused at once because the breaker was open',
      () => sources.breaker().rejected,
    );
    gauge(
      'keygate_gateway_admin_breaker_state',
      'Admin-client circuit breaker: 0 closed, 1 half-open, 2 open',
      () => BREAKER_STATE[sources.breaker().state],
    );
    gauge(
      'keygate_gateway_usage_spool_bytes',
      'Bytes held by the usage spool files',
      () => sources.spool().bytes,
    );
    gauge(
      'keygate_gateway_usage_unsent_batches',
      'Usage batches not yet accepted by the admin plane',
      () => sources.spool().unsentBatches,
    );
    counter(
      'keygate_gateway_usage_refused_batches_total',
      'Usage batches the admin plane refused for good, set aside for keygate usage replay',
      () => sources.spool().refusedBatches,
    );
    counter(
      'keygate_gateway_key_cache_revalidations_total',
      'Expired entries served at once while one background reload ran',
      sources.revalidations,
    );
  }

  request(trace: RequestTrace, _status: number): void {
    const team = trace.teamId ?? 'none';
    const target = trace.target ?? 'none';
    const code = trace.code ?? 'unknown';
    const id = `${team}\u0000${target}\u0000${code}`;
    let t = this.totals.get(id);
    if (t === undefined) {
      t = { team, target, code, requests: 0, inputTokens: 0, outputTokens: 0, costMicros: 0 };
      this.totals.set(id, t);
    }
    t.requests++;
    t.inputTokens += trace.inputTokens ?? 0;
    t.outputTokens += trace.outputTokens ?? 0;
    t.costMicros += trace.costMicros ?? 0;
    if (trace.upstreamMs !== undefined && trace.target !== undefined) {
      this.upstream.labels(trace.target).observe(trace.upstreamMs / 1000);
    }
  }
}
