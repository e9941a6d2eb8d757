/**
 * The live counters of a key in Redis mode (issue 12 + issue 14 item 7), read by the admin plane
 * itself from the shared Redis: the replicas need not be listed in KEYGATE_GATEWAY_URLS (they
 * receive invalidations over pub/sub), and every replica's windows, parallel caps, lifetime and
 * period spend live in Redis anyway. The key's policy is resolved as a gateway would load it, and
 * read with the same stores the gateways use (one answer, `shared: true`), after the answers of
 * any gateways that are listed.
 */
import type { Database } from '../../src/storage/database.js';
import { RedisSpendStore } from '../../src/budget/redis-spend-store.js';
import type { Clock } from '../../src/clock.js';
import { LimitsAdmission } from '../../src/ratelimit/limits-admission.js';
import type { RedisClient } from '../../src/ratelimit/redis-connection.js';
import { RedisCounterStore } from '../../src/ratelimit/redis-counter-store.js';
import { resolveKeyPolicy } from '../internal/resolve-key-policy.js';
import type { GatewayAnswer, GatewayCounterSource } from './gateway-counters.js';

export const REDIS_ANSWER = 'redis';

export class RedisGatewayCounters implements GatewayCounterSource {
  private readonly spend: RedisSpendStore;
  private readonly admission: LimitsAdmission;

  constructor(
    private readonly options: {
      db: Database;
      redis: RedisClient;
      prefix: string;
      clock: Clock;
      /** Gateways listed in KEYGATE_GATEWAY_URLS, asked as well. */
      listed: GatewayCounterSource;
    },
  ) {
    const { redis, prefix, clock } = options;
    this.spend = new RedisSpendStore({ redis, prefix, reservationTtlMs: 60_000, clock });
    this.admission = new LimitsAdmission({
      clock,
      store: new RedisCounterStore({ redis, prefix }),
      spend: this.spend,
    });
  }

  async counters(tokenHash: string): Promise<GatewayAnswer[]> {
    const listed = await this.options.listed.counters(tokenHash);
    const policy = resolveKeyPolicy(this.options.db, tokenHash, undefined, this.options.clock.now());
    if (policy === null) return listed;
    try {
      this.spend.observe(policy);
      const counters = await this.admission.liveCounters(policy);
      return [...listed, { gateway: REDIS_ANSWER, ok: true, counters: { ...counters, shared: true } }];
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return [...listed, { gateway: REDIS_ANSWER, ok: false, error: message }];
    }
  }
}
