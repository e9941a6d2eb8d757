/**
 * Redis mode of a gateway (REDIS_URL set): the parts gateway/main.ts wires instead of, or beside,
 * the embedded ones.
 * - admission: window counters (RedisCounterStore) and spend (RedisSpendStore) shared by every
 *   replica, behind RedisFallbackAdmission (per-process limiters while Redis is down, budgets
 *   fail closed unless KEYGATE_BUDGET_FAIL_OPEN);
 * - invalidations: a subscription to the admin plane's pub/sub channel, handed to the change
 *   follower, which pulls the feed on every (re)connection;
 * - two connections: one for commands (short timeouts, no offline queue), one for pub/sub.
 */
import type { Logger } from 'pino';
import { RedisSpendStore } from '../src/budget/redis-spend-store.js';
import { ReservationLeases } from '../src/budget/reservation-leases.js';
import type { SpendStore } from '../src/budget/spend-store.js';
import type { Clock } from '../src/clock.js';
import type { Config, RedisTarget } from '../src/config/config.js';
import { RedisChangeSubscriber, type ChangeReceiver } from '../src/invalidation/redis-change-subscriber.js';
import type { Admission } from '../src/policy/admission.js';
import type { LimiterFactory } from '../src/ratelimit/auth-failure-throttle.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import { LimitsAdmission, type LiveCountersView } from '../src/ratelimit/limits-admission.js';
import { redisAuthFailureLimiter } from '../src/ratelimit/redis-auth-failure-limiter.js';
import { CounterStoreError } from '../src/ratelimit/counter-store.js';
import { connectRedis, waitUntilReady } from '../src/ratelimit/redis-connection.js';
import { RedisCounterStore } from '../src/ratelimit/redis-counter-store.js';
import { RedisCallBatcher } from '../src/ratelimit/redis-call-batcher.js';
import { RedisFallbackAdmission } from '../src/ratelimit/redis-fallback-admission.js';
import { RedisHealth } from '../src/ratelimit/redis-health.js';

/** Reservations of an idle scope outlive the longest request by this much. */
const RESERVATION_TTL_MARGIN_MS = 60_000;
/** How long a starting gateway waits for Redis before it starts in fallback mode. */
const START_WAIT_MS = 3000;

export interface RedisMode {
  admission: Admission;
  health: RedisHealth;
  /**
   * The shared counters of a key for `GET /internal/explain` (windows, parallel caps, lifetime and
   * period spend, as every replica sees them); any gateway answers for all of them.
   */
  liveCounters(policy: ResolvedKeyPolicy): Promise<LiveCountersView & { shared?: boolean }>;
  /** Subscribes to pub/sub invalidations; the follower pulls the feed on every (re)connection. */
  subscribe(follower: ChangeReceiver): RedisChangeSubscriber;
  /** The failed-auth throttle's limiter: shared through Redis, in-memory insurance while it is down. */
  authLimiter: LimiterFactory;
  /**
   * Graceful stop, after the drain: sends the settlements still batched and resolves once they
   * were answered and their requests' usage recorded (before the usage reporter stops).
   */
  flushSettlements(): Promise<void>;
  /** For /readyz: Redis answering, and the pub/sub subscription live (subscribed and caught up). */
  status(): { up: boolean; subscribed: boolean };
  close(): Promise<void>;
}

export async function startRedisMode(
  config: Config & { redis: RedisTarget },
  deps: { clock: Clock; logger: Logger; gatewayId: string; localSpend: SpendStore },
): Promise<RedisMode> {
  const { clock, logger, gatewayId } = deps;
  const commands = connectRedis(config.redis, {
    commandTimeoutMs: config.redisTimeoutMs,
    name: `keygate-${gatewayId}`,
  });
  // ioredis reports connection errors as events; RedisHealth turns them into one line per outage.
  commands.on('error', () => {});
  const health = new RedisHealth({
    redis: commands,
    clock,
    logger,
    fallback: `window limits are enforced per process and ${
      config.budgetFailOpen
        ? 'budgets against this process’s own spend view'
        : 'budgeted requests are refused (budget_unavailable)'
    }`,
  });
  // One lease per org for this process: its budget reservations and its parallel-cap slots.
  const leases = new ReservationLeases({ redis: commands, prefix: config.redisPrefix, owner: gatewayId });
  // One batcher for both stores: a request's window and spend settlements share one call, and so
  // do those of every request ending in the same batch window.
  const batcher = new RedisCallBatcher({ redis: commands, settleWindowMs: config.redisSettleBatchMs });
  const sharedSpend = new RedisSpendStore({
    redis: commands,
    prefix: config.redisPrefix,
    reservationTtlMs: config.upstreamTimeoutMs + RESERVATION_TTL_MARGIN_MS,
    clock,
    leases,
    batcher,
  });
  const shared = new LimitsAdmission({
    clock,
    store: new RedisCounterStore({ redis: commands, prefix: config.redisPrefix, leases, batcher }),
    spend: sharedSpend,
  });
  const local = new LimitsAdmission({ clock, spend: deps.localSpend });
  const admission = new RedisFallbackAdmission({
    shared,
    local,
    health,
    budgetFailOpen: config.budgetFailOpen,
  });
  if (!(await waitUntilReady(commands, START_WAIT_MS))) {
    logger.warn('Redis not reachable at start; starting with per-process limits until it is');
  }
  const subscribers: RedisChangeSubscriber[] = [];
  return {
    admission,
    health,
    async liveCounters(policy) {
      sharedSpend.observe(policy);
      try {
        return { ...(await shared.liveCounters(policy)), shared: true };
      } catch (error) {
        if (!(error instanceof CounterStoreError)) throw error;
        // Redis is down: what this process enforces meanwhile.
        return local.liveCounters(policy);
      }
    },
    authLimiter: redisAuthFailureLimiter(commands, config.redisPrefix),
    subscribe(follower) {
      const connection = connectRedis(config.redis, {
        commandTimeoutMs: config.redisTimeoutMs,
        subscriber: true,
        name: `keygate-${gatewayId}-sub`,
      });
      connection.on('error', () => {});
      const subscriber = new RedisChangeSubscriber(connection, config.redisPrefix, follower, logger, () =>
        clock.now(),
      );
      subscriber.start();
      subscribers.push(subscriber);
      return subscriber;
    },
    async flushSettlements() {
      await batcher.flush();
      // The usage records follow the settlements' answers through a few promise steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    status: () => ({ up: health.up, subscribed: subscribers.some((subscriber) => subscriber.live) }),
    async close() {
      for (const subscriber of subscribers) subscriber.stop();
      // After the drain: settlements still waiting are sent, then what this process still holds
      // (settlements that failed) is freed now.
      await batcher.flush();
      await leases.close();
      commands.disconnect();
    },
  };
}
