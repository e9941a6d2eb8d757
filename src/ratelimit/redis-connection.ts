/**
 * The one place ioredis connections are made (Redis mode: window counters, spend, pub/sub).
 *
 * Settings chosen so that a dead Redis costs a request at most a few ms, never a hang:
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of waiting in
 *   a queue for a reconnection (the caller then falls back, see redis-fallback-admission.ts);
 * - `maxRetriesPerRequest: 0`: a command in flight when the connection drops fails at once;
 * - `commandTimeout` (`KEYGATE_REDIS_TIMEOUT_MS`, 250 ms): a Redis that accepts the connection
 *   but does not answer (paused, overloaded, network partition) fails the command after that
 *   time; callers then stop asking it for a while (`RedisHealth`), so only about one request per
 *   probe interval pays the timeout;
 * - reconnection forever with a capped backoff (50 ms steps, at most 1 s), so recovery is
 *   automatic when Redis returns.
 * Pub/sub connections keep the offline queue (a SUBSCRIBE may wait for the connection), since no
 * request waits on them.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis-url.js';

/** A connection to one server or to a cluster: the commands keygate uses behave the same. */
export type RedisClient = Redis | Cluster;

export interface RedisConnectOptions {
  /** Per-command timeout in ms (`KEYGATE_REDIS_TIMEOUT_MS`). */
  commandTimeoutMs: number;
  /** For pub/sub: queue commands while disconnected, no command timeout. */
  subscriber?: boolean;
  /** Connection name shown by CLIENT LIST. */
  name?: string;
}

/** The name RedisCallBatcher defines its script under. */
export const BATCH_COMMAND = 'keygateBatch1';

/** True for a Redis Cluster client: a script's keys must then share one hash slot. */
export function isCluster(client: RedisClient): boolean {
  return client instanceof Cluster;
}

const retry = (times: number): number => Math.min(50 * times, 1000);

export function connectRedis(target: RedisTarget, options: RedisConnectOptions): RedisClient {
  const subscriber = options.subscriber === true;
  const common: RedisOptions = {
    connectTimeout: 1000,
    maxRetriesPerRequest: subscriber ? null : 0,
    commandTimeout: subscriber ? undefined : options.commandTimeoutMs,
    connectionName: options.name,
    // Commands issued in the same tick (concurrent requests) leave in one write. Single server
    // only: a Cluster sends to its nodes without their own auto-pipelining, and its own would
    // route keygate's scripts by their first argument (the key count, not a key), so a pipeline
    // could mix orgs of different shards and be rejected; scripts go one write each there.
    enableAutoPipelining: !subscriber,
    // The batch script is already one call per event-loop turn (redis-call-batcher.ts): it is sent
    // at once rather than held for ioredis's next-turn pipeline, so admissions wait no longer.
    autoPipeliningIgnoredCommands: [BATCH_COMMAND],
  };
  if (target.mode === 'single') {
    return new Redis(target.url, {
      ...common,
      enableOfflineQueue: subscriber,
      retryStrategy: retry,
    });
  }
  const clusterOptions: ClusterOptions = {
    enableOfflineQueue: subscriber,
    clusterRetryStrategy: retry,
    slotsRefreshTimeout: 1000,
    redisOptions: {
      ...common,
      username: target.username,
      password: target.password,
      tls: target.tls ? {} : undefined,
    },
  };
  return new Cluster(target.nodes, clusterOptions);
}

/**
 * Resolves when the client is ready, or after `timeoutMs` (Redis mode starts even with Redis down).
 * A Cluster client is ready once every master answers: ioredis connects to the nodes lazily, and
 * otherwise the first burst on a shard not used yet waits for that node's connection to be set up
 * with its command timeouts running (under load, timeouts and per-process fallback admissions).
 */
export async function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  if (!(await ready(client, timeoutMs))) return false;
  if (!(client instanceof Cluster)) return true;
  const pings = client.nodes('master').map((node) =>
    node.ping().then(
      () => true,
      () => false,
    ),
  );
  const answered = await Promise.race([
    Promise.all(pings).then((answers) => answers.every(Boolean)),
    new Promise<boolean>((resolve) =>
      setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())).unref(),
    ),
  ]);
  return answered;
}

function ready(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
