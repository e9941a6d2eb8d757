/**
 * A gateway on Redis Cluster is ready only once it can reach every master (issue 12, seen under
 * load): ioredis connects to the cluster's nodes lazily, so without this the first burst of
 * requests on an org whose shard had not been used yet waited in that node's queue while its
 * connection was set up, with the command timeout running, and on a starved machine timed out
 * into the per-process fallback (over-admission in the 300-request scale-out test).
 */
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, waitUntilReady } from '../../../src/ratelimit/redis-connection.js';
import { redisAvailable, skipReason } from '../../helpers/redis-servers.js';
import { startDeployment, type RedisDeployment } from '../../helpers/redis-targets.js';

if (!redisAvailable) console.warn(skipReason('cluster connections'));

describe.skipIf(!redisAvailable)('a Cluster client made ready by waitUntilReady', () => {
  let deployment: RedisDeployment;

  beforeAll(async () => {
    deployment = await startDeployment('cluster');
  }, 60_000);

  afterAll(async () => {
    await deployment?.close();
  });

  it('has a ready connection to every master before the first command', async () => {
    const client = connectRedis(deployment.target, { commandTimeoutMs: 2000 }) as Cluster;
    try {
      expect(await waitUntilReady(client, 10_000)).toBe(true);
      const masters = client.nodes('master');
      expect(masters).toHaveLength(3);
      expect(masters.map((node) => node.status)).toEqual(['ready', 'ready', 'ready']);
    } finally {
      client.disconnect();
    }
  });
});
