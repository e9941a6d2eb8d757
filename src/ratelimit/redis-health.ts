/**
 * Whether Redis is worth asking right now (scale-out mode), so that a dead Redis costs requests
 * nothing and a hung one costs about one command timeout per probe interval, not one per request.
 *
 * Down when the connection is not ready (ioredis reconnects in the background) or when a command
 * failed less than `probeIntervalMs` ago; the first request after that interval probes Redis
 * again. Transitions are logged once each ("Redis unreachable ...", "Redis reachable again"),
 * never per request, and counted for the metrics.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { RedisClient } from './redis-connection.js';

export interface RedisHealthOptions {
  redis: RedisClient;
  clock: Clock;
  logger: Logger;
  /** After a failed command, how long requests skip Redis before one probes it again. */
  probeIntervalMs?: number;
  /** What falls back while Redis is down, for the outage log line. */
  fallback: string;
}

export class RedisHealth {
  private retryAt = 0;
  private down = false;
  /** Outages seen since start (metrics). */
  outages = 0;
  /** Admissions decided without Redis (metrics). */
  fallbackAdmissions = 0;
  private readonly probeIntervalMs: number;

  constructor(private readonly options: RedisHealthOptions) {
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    // Back from a reconnection: probe at once rather than at the end of the interval.
    options.redis.on('ready', () => (this.retryAt = 0));
    options.redis.on('close', () => this.markDown(new Error('connection closed')));
  }

  /** True when the next request should go to Redis. */
  usable(): boolean {
    return this.options.redis.status === 'ready' && this.options.clock.now() >= this.retryAt;
  }

  get up(): boolean {
    return !this.down;
  }

  /**
   * A request's work on the shared stores succeeded. That work may have needed no Redis command at
   * all (a request without limits), so only a ready connection counts as Redis being back.
   */
  succeeded(): void {
    if (!this.down || this.options.redis.status !== 'ready') return;
    this.down = false;
    this.options.logger.info('Redis reachable again: shared limits and budgets resumed');
  }

  /** A Redis command of a request failed (or timed out). */
  failed(error: unknown): void {
    this.retryAt = this.options.clock.now() + this.probeIntervalMs;
    this.markDown(error);
  }

  private markDown(error: unknown): void {
    if (this.down) return;
    this.down = true;
    this.outages++;
    this.options.logger.warn(
      { err: error },
      `Redis unreachable: ${this.options.fallback} until it returns (logged once per outage)`,
    );
  }
}
