/**
 * Starts the admin plane: opens SQLite (migrations run), bootstraps credentials (prints a
 * generated master key once), serves the app, pushes changes to gateways; stops gracefully.
 * Run directly: `node dist/admin/main.js` (configuration from the environment).
 */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../src/clock.js';
import { loadConfig, type Config, type RedisTarget } from '../src/config/config.js';
import { FanOutBus } from '../src/invalidation/fan-out-bus.js';
import type { InvalidationBus } from '../src/invalidation/invalidation-bus.js';
import { InternalTokens } from '../src/invalidation/internal-token.js';
import { RedisGatewayCounters } from './keys/redis-gateway-counters.js';
import { RedisInvalidationBus } from '../src/invalidation/redis-invalidation-bus.js';
import { connectRedis, type RedisClient } from '../src/ratelimit/redis-connection.js';
import { createLogger } from '../src/logger.js';
import { openDatabase, type Database } from '../src/storage/database.js';
import { LocalSecrets } from '../src/storage/local-secrets.js';
import { AlertWebhook } from './alerts/alert-webhook.js';
import { HttpGatewayCounters } from './keys/gateway-counters.js';
import { AdminMetrics } from './admin-metrics.js';
import { createAdminApp } from './app.js';
import { Credentials } from './auth/credentials.js';
import { HttpInvalidationBus } from './push/change-pusher.js';

/**
 * The internal secret: configured, or generated once and kept in the 0600 secrets file next to
 * the database (`keygate start`; src/storage/local-secrets.ts).
 */
export function ensureInternalSecret(
  db: Database,
  configured: string | undefined,
  dbPath = ':memory:',
): string {
  if (configured !== undefined) return configured;
  return new LocalSecrets(db, dbPath).getOrCreate('internal_secret');
}

/** The admin plane's Redis connection: publishes only (a publish waits for a reconnection). */
function redisPublisher(target: RedisTarget, config: Readonly<Config>): RedisClient {
  const client = connectRedis(target, { commandTimeoutMs: config.redisTimeoutMs, name: 'keygate-admin' });
  client.on('error', () => {}); // outages are logged once by the bus
  return client;
}

export interface RunningAdmin {
  url: string;
  port: number;
  /** Set when this start generated the master key (shown once). */
  generatedMasterKey: string | undefined;
  close(): Promise<void>;
}

export async function startAdmin(
  config: Readonly<Config>,
  options: { logger?: Logger; clock?: Clock } = {},
): Promise<RunningAdmin> {
  const logger = options.logger ?? createLogger(config.logLevel, 'keygate-admin');
  const db = openDatabase(config.dbPath, { cacheMb: config.dbCacheMb });
  const credentials = new Credentials(db, config);
  const internalTokens = new InternalTokens(ensureInternalSecret(db, config.internalSecret, config.dbPath));
  const pushes = new HttpInvalidationBus(config.gatewayUrls ?? [], internalTokens, logger);
  // Redis mode: every change batch is also published on the Redis channel the replicas subscribe to.
  const publisher = config.redis === undefined ? undefined : redisPublisher(config.redis, config);
  const invalidation: InvalidationBus =
    publisher === undefined
      ? pushes
      : new FanOutBus([pushes, new RedisInvalidationBus(publisher, config.redisPrefix, logger)]);
  const clock = options.clock ?? systemClock;
  const listedGateways = new HttpGatewayCounters(config.gatewayUrls ?? [], internalTokens);
  const alerts =
    config.alertWebhookUrl === undefined || config.alertWebhookSecret === undefined
      ? undefined
      : new AlertWebhook({ url: config.alertWebhookUrl, secret: config.alertWebhookSecret, clock, logger });
  const app = createAdminApp({
    db,
    config,
    clock,
    credentials,
    internalTokens,
    invalidation,
    logger,
    ...(alerts === undefined ? {} : { alerts }),
    // Redis mode: the shared counters straight from Redis (replicas need not be listed).
    gatewayCounters:
      publisher === undefined
        ? listedGateways
        : new RedisGatewayCounters({
            db,
            redis: publisher,
            prefix: config.redisPrefix,
            clock,
            listed: listedGateways,
          }),
    metrics: new AdminMetrics(),
  });
  // Slow or piling-up clients cannot hold the admin plane's sockets (issue 10 item 13).
  const server = serve({
    fetch: app.fetch,
    hostname: config.adminHost,
    port: config.adminPort,
    serverOptions: {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
    },
  }) as import('node:http').Server;
  server.maxConnections = config.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.adminHost}:${port}`;
  logger.info({ url }, 'admin plane listening');
  return {
    url,
    port,
    generatedMasterKey: credentials.bootstrap.generated,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await invalidation.close();
      db.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const admin = await startAdmin(config);
  if (admin.generatedMasterKey !== undefined) {
    process.stdout.write(
      `\nkeygate master key (shown once, store it now): ${admin.generatedMasterKey}\n` +
        `  use it as: Authorization: Bearer <master key> against ${admin.url}/v1\n` +
        `  or sign in to the web console at ${admin.url}/ with it\n\n`,
    );
  }
  const stop = () => {
    admin.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
