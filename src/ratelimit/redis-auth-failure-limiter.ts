/**
 * The failed-authentication throttle's limiter in Redis mode (issue 12): a rate-limiter-flexible
 * `RateLimiterRedis` on the gateway's Redis connection, so every replica and worker counts the
 * same failures per client address, with a `RateLimiterMemory` of the same options as its
 * insurance: while Redis is down (or not ready: `rejectIfRedisNotReady`, no waiting) each process
 * keeps throttling on its own instead of letting failures through unthrottled.
 *
 * The options are those the throttle passes to its limiter factory (`keyPrefix`, `points`,
 * `duration`, `blockDuration`). One key per consume, so Redis Cluster needs no hash tag here.
 */
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RedisClient } from './redis-connection.js';

export interface AuthFailureLimiterOptions {
  keyPrefix: string;
  points: number;
  duration: number;
  blockDuration: number;
}

/** A limiter factory for the failed-authentication throttle, shared through `redis` under `prefix`. */
export function redisAuthFailureLimiter(
  redis: RedisClient,
  prefix: string,
): (options: AuthFailureLimiterOptions) => RateLimiterRedis {
  return (options) =>
    new RateLimiterRedis({
      ...options,
      keyPrefix: `${prefix}auth:${options.keyPrefix}`,
      storeClient: redis,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory(options),
    });
}
