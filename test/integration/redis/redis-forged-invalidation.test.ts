/**
 * Pub/sub messages are not authenticated (HTTP pushes and the change feed are: internal tokens),
 * so anyone who can PUBLISH on the Redis server can put a message on `<prefix>changes`. A
 * gateway handed each message to its change follower as if it were the admin plane's batch: a
 * forged `{seq: N+1, changes: [{seq: N+1, ...}]}` was applied and moved the follower's cursor,
 * and the real change N+1 (a revocation), pushed or pulled later, was skipped as already
 * applied. A message is now only a wake-up: the follower pulls the authenticated feed.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/config.js';
import { ChangeFollower, type ChangeFeed } from '../../../src/invalidation/change-follower.js';
import type { Change, ChangeBatch } from '../../../src/invalidation/change.js';
import { RedisChangeSubscriber } from '../../../src/invalidation/redis-change-subscriber.js';
import { RedisInvalidationBus } from '../../../src/invalidation/redis-invalidation-bus.js';
import { connectRedis, type RedisClient } from '../../../src/ratelimit/redis-connection.js';
import { eventually } from '../../helpers/eventually.js';
import {
  redisAvailable,
  skipReason,
  startRedisServer,
  type RedisServer,
} from '../../helpers/redis-servers.js';

if (!redisAvailable) console.warn(skipReason('forged Redis invalidations'));

const PREFIX = 'forged-test:';

/** The admin plane's change log, served like GET /internal/changes. */
class LogFeed implements ChangeFeed {
  readonly log: Change[] = [];
  pulls = 0;
  async changesAfter(after: number, limit: number): Promise<ChangeBatch> {
    this.pulls++;
    const changes = this.log.filter((c) => c.seq > after).slice(0, limit);
    return { seq: changes.at(-1)?.seq ?? this.log.at(-1)?.seq ?? 0, changes };
  }
}

describe.skipIf(!redisAvailable)('a forged message on the invalidation channel', () => {
  let server: RedisServer;
  let attacker: RedisClient;
  let bus: RedisInvalidationBus;
  let subscriber: RedisChangeSubscriber;
  const logger = pino({ level: 'silent' });
  const feed = new LogFeed();
  const applied: string[] = [];
  const follower = new ChangeFollower({
    feed,
    clock: new ManualClock(),
    apply: (change) => void applied.push(change.entityId),
  });

  beforeAll(async () => {
    server = await startRedisServer();
    const target = loadConfig({ REDIS_URL: server.url }).redis!;
    attacker = connectRedis(target, { commandTimeoutMs: 1000 });
    attacker.on('error', () => {});
    const publisher = connectRedis(target, { commandTimeoutMs: 1000 });
    publisher.on('error', () => {});
    bus = new RedisInvalidationBus(publisher, PREFIX, logger);
    const connection = connectRedis(target, { commandTimeoutMs: 1000, subscriber: true });
    connection.on('error', () => {});
    follower.start(0);
    subscriber = new RedisChangeSubscriber(connection, PREFIX, follower, logger, Date.now);
    subscriber.start();
    await eventually(() => subscriber.live, { timeoutMs: 10_000, what: 'subscription live' });
  }, 30_000);

  afterAll(async () => {
    subscriber?.stop();
    attacker?.disconnect();
    await bus?.close();
    await server?.close();
  });

  it('cannot make the follower skip the real change of the same seq', async () => {
    const pullsBefore = feed.pulls;
    const forged: ChangeBatch = {
      seq: 1,
      changes: [{ seq: 1, at: Date.now(), entityType: 'key', entityId: 'forged', tokenHashes: [] }],
    };
    await attacker.publish(`${PREFIX}changes`, JSON.stringify(forged));
    await attacker.publish(`${PREFIX}changes`, 'not json at all');
    await attacker.publish(`${PREFIX}changes`, JSON.stringify({ seq: 'x', changes: 7 }));
    await eventually(() => applied.includes('forged') || feed.pulls > pullsBefore, {
      what: 'the forged message handled',
    });

    // The admin plane commits the revocation as change 1 and publishes it.
    const revocation: Change = {
      seq: 1,
      at: Date.now(),
      entityType: 'key',
      entityId: 'revoked-key',
      tokenHashes: ['h'],
    };
    feed.log.push(revocation);
    bus.publish({ seq: 1, changes: [revocation] });
    await eventually(() => applied.includes('revoked-key'), { what: 'the revocation applied' });
    expect(applied).not.toContain('forged');
    expect(follower.lastSeq).toBe(1);
  });
});
