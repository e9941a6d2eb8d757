/**
 * The failed-authentication limiter of Redis mode: two gateways (two connections) count the same
 * failures of one address; with Redis stopped each keeps throttling on its own (the in-memory
 * insurance limiter), without waiting for Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { redisAuthFailureLimiter } from '../../../src/ratelimit/redis-auth-failure-limiter.js';
import { connectRedis, waitUntilReady, type RedisClient } from '../../../src/ratelimit/redis-connection.js';
import {
  redisAvailable,
  skipReason,
  startRedisServer,
  type RedisServer,
} from '../../helpers/redis-servers.js';

if (!redisAvailable) console.warn(skipReason('failed-authentication limiter on Redis'));

const consumed = (limiter: { consume(key: string): Promise<unknown> }, key: string) =>
  limiter.consume(key).then(
    () => 'ok',
    () => 'blocked',
  );

describe.skipIf(!redisAvailable)('failed-authentication limiter shared through Redis', () => {
  let server: RedisServer;
  const clients: RedisClient[] = [];
  const options = { keyPrefix: 'gw', points: 4, duration: 60, blockDuration: 60 };

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.close();
  });

  const gateway = async () => {
    const redis = connectRedis(loadConfig({ REDIS_URL: server.url }).redis!, { commandTimeoutMs: 250 });
    redis.on('error', () => {});
    clients.push(redis);
    expect(await waitUntilReady(redis, 5000)).toBe(true);
    return redisAuthFailureLimiter(redis, 'authtest:')(options);
  };

  it('two gateways share the failures of one address; a Redis outage falls back to per-process counting', async () => {
    const [a, b] = [await gateway(), await gateway()];
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await consumed(i % 2 === 0 ? a : b, '203.0.113.7'));
    // 4 points shared: the 5th failure, whichever gateway sees it, is blocked.
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'blocked', 'blocked']);

    await server.stop(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const local = [];
    for (let i = 0; i < 5; i++) local.push(await consumed(a, '198.51.100.9'));
    expect(Date.now() - started).toBeLessThan(100);
    expect(local).toEqual(['ok', 'ok', 'ok', 'ok', 'blocked']);
    await server.start();
  });
});
