/**
 * The Redis deployments every Redis-mode test runs against:
 * - `shared`: the Redis of REDIS_URL (CI exports redis://127.0.0.1:6379), used with unique key
 *   prefixes and never flushed or stopped;
 * - `cluster`: a 3-master Redis Cluster this run starts on free ports (redis-servers.ts);
 * - `own`: when REDIS_URL is unset but redis-server exists, a standalone server of this run
 *   stands in for `shared`, so the single-server path is still exercised.
 * When neither REDIS_URL nor redis-server is available the list is empty and the suites print
 * why they skip.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { RedisSpendStore } from '../../src/budget/redis-spend-store.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig, type RedisTarget } from '../../src/config/config.js';
import { LimitsAdmission } from '../../src/ratelimit/limits-admission.js';
import { connectRedis, waitUntilReady, type RedisClient } from '../../src/ratelimit/redis-connection.js';
import { RedisCounterStore } from '../../src/ratelimit/redis-counter-store.js';
import { redisAvailable, startRedisCluster, startRedisServer } from './redis-servers.js';

export interface RedisDeployment {
  name: 'shared' | 'own' | 'cluster';
  /** The REDIS_URL a gateway would be given. */
  url: string;
  target: RedisTarget;
  close(): Promise<void>;
}

export type DeploymentName = RedisDeployment['name'];

const SHARED_URL = process.env.REDIS_URL;

/** Names of the deployments this machine can run (known before starting any). */
export function deploymentNames(): DeploymentName[] {
  const names: DeploymentName[] = [];
  if (SHARED_URL !== undefined && SHARED_URL !== '') names.push('shared');
  else if (redisAvailable) names.push('own');
  if (redisAvailable) names.push('cluster');
  return names;
}

export function noRedisMessage(suite: string): string {
  return `SKIPPED ${suite}: neither REDIS_URL nor redis-server is available (set REDIS_URL or install Redis)`;
}

function targetOf(url: string): RedisTarget {
  const target = loadConfig({ REDIS_URL: url }).redis;
  if (target === undefined) throw new Error(`not a Redis URL: ${url}`);
  return target;
}

export async function startDeployment(name: DeploymentName): Promise<RedisDeployment> {
  if (name === 'shared') {
    return {
      name,
      url: SHARED_URL!,
      target: targetOf(SHARED_URL!),
      close: () => forgetPrefixes(SHARED_URL!),
    };
  }
  if (name === 'own') {
    const server = await startRedisServer();
    return { name, url: server.url, target: targetOf(server.url), close: () => server.close() };
  }
  const cluster = await startRedisCluster();
  return { name, url: cluster.url, target: targetOf(cluster.url), close: () => cluster.close() };
}

const prefixes: string[] = [];

/** A key prefix no other test run uses (the shared Redis is never flushed). */
export function uniquePrefix(what: string): string {
  const prefix = `keygate-test:${what}:${process.pid}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:`;
  prefixes.push(prefix);
  return prefix;
}

/** Deletes the keys of this run's prefixes from the shared Redis (they carry TTLs anyway). */
async function forgetPrefixes(url: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    for (const prefix of prefixes.splice(0)) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * Deployment `name` for the enclosing describe: started in beforeAll, closed in afterAll together
 * with every client `connect()` opened (each one ready before it is returned).
 */
export function useDeployment(name: DeploymentName): {
  connect(options?: { commandTimeoutMs?: number }): Promise<RedisClient>;
} {
  let deployment: RedisDeployment | undefined;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    deployment = await startDeployment(name);
  }, 60_000);
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await deployment?.close();
  });
  return {
    async connect({ commandTimeoutMs = 2000 } = {}) {
      if (deployment === undefined) throw new Error(`Redis deployment ${name} is not started`);
      const redis = connectRedis(deployment.target, { commandTimeoutMs });
      clients.push(redis);
      expect(await waitUntilReady(redis, 10_000)).toBe(true);
      return redis;
    },
  };
}

/**
 * One gateway replica's admission in Redis mode: LimitsAdmission over the shared counters and
 * shared spend under `prefix` (several replicas of one test share the prefix).
 */
export function redisLimitsAdmission(redis: RedisClient, prefix: string, clock: Clock): LimitsAdmission {
  return new LimitsAdmission({
    clock,
    store: new RedisCounterStore({ redis, prefix }),
    spend: new RedisSpendStore({ redis, prefix, reservationTtlMs: 60_000, clock }),
  });
}
