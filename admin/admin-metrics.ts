/**
 * The admin plane's Prometheus registry (issue 13, item 14), served at `GET /metrics`:
 * HTTP requests by method, route pattern and status (bounded: route patterns, not paths), their
 * duration, the latency of SQLite write transactions, and usage batches applied or skipped as
 * duplicates. Its own registry, so tests can create as many admin apps as they like.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { observeWrites } from '../src/storage/database.js';

export class AdminMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;
  private readonly writes: Histogram;
  private readonly batches: Counter<'result'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'keygate_admin_http_requests_total',
      help: 'Admin plane HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'keygate_admin_http_request_duration_seconds',
      help: 'Admin plane HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
    this.writes = new Histogram({
      name: 'keygate_admin_sqlite_write_seconds',
      help: 'Duration of SQLite write transactions (BEGIN IMMEDIATE … COMMIT)',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
      registers,
    });
    this.batches = new Counter({
      name: 'keygate_admin_usage_batches_total',
      help: 'Gateway usage batches received: applied, or duplicate (already applied, skipped)',
      labelNames: ['result'],
      registers,
    });
    observeWrites((seconds) => this.writes.observe(seconds));
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'keygate_admin_' });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }

  usageBatch(applied: boolean): void {
    this.batches.inc({ result: applied ? 'applied' : 'duplicate' });
  }
}
