/**
 * `keygate doctor` checks Redis with the planes' own connection code, so every REDIS_URL form the
 * planes accept (one server, cluster seeds) is checked as the planes would use it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRedis } from '../../../bin/doctor-checks.js';
import { loadConfig } from '../../../src/config/config.js';
import {
  redisAvailable,
  skipReason,
  startRedisCluster,
  type RedisCluster,
} from '../../helpers/redis-servers.js';
import { freePort } from '../../helpers/processes.js';

if (!redisAvailable) console.warn(skipReason('doctor on Redis Cluster'));

describe.skipIf(!redisAvailable)('keygate doctor on Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(() => cluster?.close());

  it('reaches a cluster given as comma-separated node URLs and as redis+cluster://', async () => {
    const plain = await checkRedis(loadConfig({ REDIS_URL: cluster.url }));
    expect(plain).toMatchObject({ level: 'ok', message: expect.stringContaining('answers PONG') });
    const seeds = cluster.ports.map((port) => `127.0.0.1:${port}`).join(',');
    const scheme = await checkRedis(loadConfig({ REDIS_URL: `redis+cluster://${seeds}` }));
    expect(scheme.level).toBe('ok');
  });

  it('names an unreachable server', async () => {
    const dead = await checkRedis(loadConfig({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }));
    expect(dead).toMatchObject({ level: 'fail', message: expect.stringContaining('not reachable') });
  });
});
