/**
 * Invalidations over Redis pub/sub, on a redis-server this test starts and restarts: a published
 * batch makes the subscriber's follower pull the change feed (the message itself is never
 * applied: test/integration/redis/redis-forged-invalidation.test.ts); after Redis comes back the subscriber subscribes again
 * and pulls the change feed before it counts as live; a publish while Redis is down never throws.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import type { ChangeBatch } from '../../../src/invalidation/change.js';
import { RedisChangeSubscriber } from '../../../src/invalidation/redis-change-subscriber.js';
import { RedisInvalidationBus } from '../../../src/invalidation/redis-invalidation-bus.js';
import { connectRedis } from '../../../src/ratelimit/redis-connection.js';
import {
  redisAvailable,
  skipReason,
  startRedisServer,
  type RedisServer,
} from '../../helpers/redis-servers.js';

if (!redisAvailable) console.warn(skipReason('Redis pub/sub invalidations'));

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.skipIf(!redisAvailable)('Redis pub/sub invalidation bus and subscriber', () => {
  let server: RedisServer;
  const logger = pino({ level: 'silent' });
  /** The follower's pulls, in order. */
  const events: string[] = [];
  const follower = { pull: async () => void events.push('pull') };
  let subscriber: RedisChangeSubscriber;
  let bus: RedisInvalidationBus;

  beforeAll(async () => {
    server = await startRedisServer();
    const target = loadConfig({ REDIS_URL: server.url }).redis!;
    const publisher = connectRedis(target, { commandTimeoutMs: 250 });
    publisher.on('error', () => {});
    bus = new RedisInvalidationBus(publisher, 'pubsub-test:', logger);
    const connection = connectRedis(target, { commandTimeoutMs: 250, subscriber: true });
    connection.on('error', () => {});
    subscriber = new RedisChangeSubscriber(connection, 'pubsub-test:', follower, logger, Date.now);
    subscriber.start();
  }, 30_000);

  afterAll(async () => {
    subscriber?.stop();
    await bus?.close();
    await server?.close();
  });

  const batch = (seq: number): ChangeBatch => ({
    seq,
    changes: [{ seq, at: Date.now(), entityType: 'key', entityId: `key_${seq}`, tokenHashes: [] }],
  });

  it('subscribes, pulls, then pulls again for every published batch', async () => {
    await until(() => subscriber.live, 'live');
    expect(events).toEqual(['pull']);
    bus.publish(batch(1));
    bus.publish(batch(2));
    await until(() => events.length === 3, 'a pull per batch');
    expect(events).toEqual(['pull', 'pull', 'pull']);
  });

  it('after Redis returns it subscribes again and pulls the feed before counting as live', async () => {
    events.length = 0;
    await server.stop(true);
    await until(() => !subscriber.live, 'subscription lost');
    bus.publish(batch(3)); // lost for good in pub/sub; must not throw
    await server.start();
    await until(() => subscriber.live, 'live again', 15_000);
    expect(events).toEqual(['pull']);
    await until(() => {
      bus.publish(batch(4));
      return events.length > 1;
    }, 'batches after the reconnection');
  });
});
