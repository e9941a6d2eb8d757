/**
 * The one configuration loader of both planes (API.md "Configuration"). Read once at start,
 * every problem reported together, frozen, then passed in. Nothing else reads process.env.
 */
import { parseRedisUrl, type RedisTarget } from './redis-url.js';

export type { RedisTarget } from './redis-url.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  dbPath: string;
  /** SQLite page cache of the admin plane, MiB. */
  dbCacheMb: number;
  adminHost: string;
  adminPort: number;
  gatewayHost: string;
  gatewayPort: number;
  masterKey: string | undefined;
  jwtSecret: string | undefined;
  jwksUrl: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  internalSecret: string | undefined;
  adminUrl: string;
  /** undefined = not configured (`keygate start` fills in its local gateway); [] = push to nobody. */
  gatewayUrls: readonly string[] | undefined;
  resyncIntervalMs: number;
  usageFlushMs: number;
  cacheMaxKeys: number;
  cacheTtlMs: number;
  negativeCacheTtlMs: number;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
  defaultMaxTokens: number;
  gatewayId: string | undefined;
  redisUrl: string | undefined;
  redisPrefix: string;
  budgetFailOpen: boolean;
  logLevel: LogLevel;
  alertWebhookUrl: string | undefined;
  alertWebhookSecret: string | undefined;
  /** REDIS_URL parsed: one server or a cluster's seed nodes (undefined = memory mode). */
  redis: RedisTarget | undefined;
  /** Per-command Redis timeout; a slower answer counts as Redis being down. */
  redisTimeoutMs: number;
  /** How long a request's settlement may wait to share one Redis call with others (0: same event-loop turn). */
  redisSettleBatchMs: number;
  /** Gateway processes on one port (node:cluster); more than 1 needs REDIS_URL. */
  gatewayWorkers: number;
  /** Largest output-token figure a cost estimate uses (a bigger max_tokens is forwarded, not reserved). */
  maxOutputTokens: number;
  /** Client headers forwarded upstream beyond the built-in allow-list (exact names or `prefix*`). */
  forwardHeaders: readonly string[];
  /** When set, the gateway's /metrics requires `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** node:http server limits (slow clients, socket count). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  /** Refuse targets created without pricing (they would cost $0 and never trip a budget). */
  requirePricing: boolean;
  spoolDir: string;
  shutdownTimeoutMs: number;
  adminLoadTimeoutMs: number;
  cacheStaleMs: number;
  upstreamConnectTimeoutMs: number;
  upstreamIdleTimeoutMs: number;
  maxResponseBytes: number;
  sessionTtlMs: number;
  passwordLinkTtlMs: number;
  /** Keys a gateway loads at start, most recently used first (0 = no warm start). */
  preloadKeys: number;
  /** Admin plane request body limit (then 413 request_too_large). */
  adminMaxBodyBytes: number;
  /** Failed authentications per client address per window before a block (0 = off). */
  authFailurePoints: number;
  authFailureWindowSec: number;
  authFailureBlockSec: number;
  /** Gateway-wide admin loads per second that may answer "unknown key" (0 = no cap). */
  unknownKeyLoadsPerSec: number;
  /** Provider credentials: env names with this prefix, or listed in the allow-list. */
  providerEnvPrefix: string;
  providerEnvAllowlist: readonly string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** Every variable and its default, as written in the README's configuration table (docs-sync test). */
export const CONFIG_VARIABLES = {
  KEYGATE_DB_PATH: { default: './data/keygate.db' },
  KEYGATE_DB_CACHE_MB: { default: '64' },
  KEYGATE_ADMIN_HOST: { default: '127.0.0.1' },
  KEYGATE_ADMIN_PORT: { default: '4100' },
  KEYGATE_GATEWAY_HOST: { default: '127.0.0.1' },
  KEYGATE_GATEWAY_PORT: { default: '4000' },
  KEYGATE_MASTER_KEY: { default: undefined },
  KEYGATE_JWT_SECRET: { default: undefined },
  KEYGATE_JWKS_URL: { default: undefined },
  KEYGATE_JWT_ISSUER: { default: undefined },
  KEYGATE_JWT_AUDIENCE: { default: undefined },
  KEYGATE_INTERNAL_SECRET: { default: undefined },
  KEYGATE_ADMIN_URL: { default: 'http://127.0.0.1:4100' },
  KEYGATE_GATEWAY_URLS: { default: undefined },
  KEYGATE_RESYNC_INTERVAL_MS: { default: '500' },
  KEYGATE_USAGE_FLUSH_MS: { default: '1000' },
  KEYGATE_CACHE_MAX_KEYS: { default: '100000' },
  KEYGATE_CACHE_TTL_MS: { default: '60000' },
  KEYGATE_NEGATIVE_CACHE_TTL_MS: { default: '10000' },
  KEYGATE_UPSTREAM_TIMEOUT_MS: { default: '300000' },
  KEYGATE_MAX_BODY_BYTES: { default: '4194304' },
  KEYGATE_DEFAULT_MAX_TOKENS: { default: '1024' },
  KEYGATE_GATEWAY_ID: { default: undefined },
  REDIS_URL: { default: undefined },
  KEYGATE_REDIS_PREFIX: { default: 'keygate:' },
  KEYGATE_BUDGET_FAIL_OPEN: { default: 'false' },
  KEYGATE_LOG_LEVEL: { default: 'info' },
  KEYGATE_ALERT_WEBHOOK_URL: { default: undefined },
  KEYGATE_ALERT_WEBHOOK_SECRET: { default: undefined },
  KEYGATE_REDIS_TIMEOUT_MS: { default: '250' },
  KEYGATE_REDIS_SETTLE_BATCH_MS: { default: '0' },
  KEYGATE_GATEWAY_WORKERS: { default: '1' },
  KEYGATE_MAX_OUTPUT_TOKENS: { default: '131072' },
  KEYGATE_FORWARD_HEADERS: { default: undefined },
  KEYGATE_METRICS_TOKEN: { default: undefined },
  KEYGATE_HEADERS_TIMEOUT_MS: { default: '10000' },
  KEYGATE_REQUEST_TIMEOUT_MS: { default: '60000' },
  KEYGATE_MAX_CONNECTIONS: { default: '10000' },
  KEYGATE_REQUIRE_PRICING: { default: 'false' },
  KEYGATE_SPOOL_DIR: { default: './data/spool' },
  KEYGATE_SHUTDOWN_TIMEOUT_MS: { default: '15000' },
  KEYGATE_ADMIN_LOAD_TIMEOUT_MS: { default: '1000' },
  KEYGATE_CACHE_STALE_MS: { default: '300000' },
  KEYGATE_UPSTREAM_CONNECT_MS: { default: '5000' },
  KEYGATE_UPSTREAM_IDLE_MS: { default: '60000' },
  KEYGATE_MAX_RESPONSE_BYTES: { default: '16777216' },
  KEYGATE_SESSION_TTL_MS: { default: '28800000' },
  KEYGATE_PASSWORD_LINK_TTL_MS: { default: '86400000' },
  KEYGATE_PRELOAD_KEYS: { default: '10000' },
  KEYGATE_ADMIN_MAX_BODY_BYTES: { default: '1048576' },
  KEYGATE_AUTH_FAILURE_POINTS: { default: '100' },
  KEYGATE_AUTH_FAILURE_WINDOW_SEC: { default: '60' },
  KEYGATE_AUTH_FAILURE_BLOCK_SEC: { default: '300' },
  KEYGATE_UNKNOWN_KEY_LOADS_PER_SEC: { default: '200' },
  KEYGATE_PROVIDER_ENV_PREFIX: { default: 'KEYGATE_PROVIDER_KEY_' },
  KEYGATE_PROVIDER_ENV_ALLOWLIST: { default: undefined },
} as const satisfies Record<string, { default: string | undefined }>;

type VariableName = keyof typeof CONFIG_VARIABLES;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const problems: string[] = [];
  const raw = (name: VariableName): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? CONFIG_VARIABLES[name].default : value;
  };
  const text = (name: VariableName): string => raw(name) ?? '';
  const optional = (name: VariableName): string | undefined => raw(name);
  const integer = (name: VariableName, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = text(name);
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${value}")`);
      return min;
    }
    return parsed;
  };
  const url = (name: VariableName, value: string | undefined): void => {
    if (value === undefined) return;
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
    } catch {
      problems.push(`${name} must be an http(s) URL (got "${value}")`);
    }
  };
  const boolean = (name: VariableName): boolean => {
    const value = text(name).toLowerCase();
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    problems.push(`${name} must be true or false (got "${value}")`);
    return false;
  };

  const gatewayUrlsRaw = env.KEYGATE_GATEWAY_URLS;
  const gatewayUrls =
    gatewayUrlsRaw === undefined
      ? undefined
      : gatewayUrlsRaw
          .split(',')
          .map((entry) => entry.trim())
          .filter((entry) => entry !== '');
  for (const entry of gatewayUrls ?? []) url('KEYGATE_GATEWAY_URLS', entry);

  const adminUrl = text('KEYGATE_ADMIN_URL');
  url('KEYGATE_ADMIN_URL', adminUrl);
  url('KEYGATE_JWKS_URL', optional('KEYGATE_JWKS_URL'));
  const redisUrl = optional('REDIS_URL');
  const redisParsed = redisUrl === undefined ? undefined : parseRedisUrl(redisUrl);
  if (redisParsed !== undefined && 'problem' in redisParsed) problems.push(redisParsed.problem);
  const logLevel = text('KEYGATE_LOG_LEVEL') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`KEYGATE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }
  const masterKey = optional('KEYGATE_MASTER_KEY');
  if (masterKey !== undefined && masterKey.length < 16) {
    problems.push('KEYGATE_MASTER_KEY must be at least 16 characters');
  }
  const jwtSecret = optional('KEYGATE_JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    problems.push('KEYGATE_JWT_SECRET must be at least 32 characters');
  }
  const internalSecret = optional('KEYGATE_INTERNAL_SECRET');
  if (internalSecret !== undefined && internalSecret.length < 32) {
    problems.push('KEYGATE_INTERNAL_SECRET must be at least 32 characters');
  }

  const alertWebhookUrl = optional('KEYGATE_ALERT_WEBHOOK_URL');
  url('KEYGATE_ALERT_WEBHOOK_URL', alertWebhookUrl);
  const alertWebhookSecret = optional('KEYGATE_ALERT_WEBHOOK_SECRET');
  if (alertWebhookUrl !== undefined && (alertWebhookSecret === undefined || alertWebhookSecret.length < 32)) {
    problems.push(
      'KEYGATE_ALERT_WEBHOOK_SECRET (at least 32 characters) is required with KEYGATE_ALERT_WEBHOOK_URL',
    );
  }
  // Sent as `gateway_id` with every usage batch, which the admin plane takes up to 200 characters
  // of: a longer id had every batch refused, and usage never recorded (docs/api.md "Internal API").
  const gatewayId = optional('KEYGATE_GATEWAY_ID');
  if (gatewayId !== undefined && gatewayId.length > 200) {
    problems.push(`KEYGATE_GATEWAY_ID must be at most 200 characters (got ${gatewayId.length})`);
  }
  const providerEnvPrefix = text('KEYGATE_PROVIDER_ENV_PREFIX');
  const reservedPrefix = Object.keys(CONFIG_VARIABLES).find((name) => name.startsWith(providerEnvPrefix));
  if (providerEnvPrefix.length < 4 || reservedPrefix !== undefined) {
    problems.push(
      `KEYGATE_PROVIDER_ENV_PREFIX must have at least 4 characters and match no keygate setting (got "${providerEnvPrefix}")`,
    );
  }
  const providerEnvAllowlist = (optional('KEYGATE_PROVIDER_ENV_ALLOWLIST') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of providerEnvAllowlist) {
    if (
      !/^[A-Za-z_][A-Za-z0-9_]*$/.test(entry) ||
      (entry.startsWith('KEYGATE_') && !entry.startsWith(providerEnvPrefix))
    ) {
      problems.push(
        `KEYGATE_PROVIDER_ENV_ALLOWLIST may not name "${entry}" (keygate's own variables are never credentials)`,
      );
    }
  }

  const config: Config = {
    dbPath: text('KEYGATE_DB_PATH'),
    dbCacheMb: integer('KEYGATE_DB_CACHE_MB', 1, 65_536),
    adminHost: text('KEYGATE_ADMIN_HOST'),
    adminPort: integer('KEYGATE_ADMIN_PORT', 0, 65535),
    gatewayHost: text('KEYGATE_GATEWAY_HOST'),
    gatewayPort: integer('KEYGATE_GATEWAY_PORT', 0, 65535),
    masterKey,
    jwtSecret,
    jwksUrl: optional('KEYGATE_JWKS_URL'),
    jwtIssuer: optional('KEYGATE_JWT_ISSUER'),
    jwtAudience: optional('KEYGATE_JWT_AUDIENCE'),
    internalSecret,
    adminUrl: adminUrl.replace(/\/+$/, ''),
    gatewayUrls: gatewayUrls?.map((entry) => entry.replace(/\/+$/, '')),
    resyncIntervalMs: integer('KEYGATE_RESYNC_INTERVAL_MS', 50, 3_600_000),
    usageFlushMs: integer('KEYGATE_USAGE_FLUSH_MS', 10, 3_600_000),
    cacheMaxKeys: integer('KEYGATE_CACHE_MAX_KEYS', 1, 100_000_000),
    cacheTtlMs: integer('KEYGATE_CACHE_TTL_MS', 1000, 86_400_000),
    negativeCacheTtlMs: integer('KEYGATE_NEGATIVE_CACHE_TTL_MS', 0, 3_600_000),
    upstreamTimeoutMs: integer('KEYGATE_UPSTREAM_TIMEOUT_MS', 1, 3_600_000),
    maxBodyBytes: integer('KEYGATE_MAX_BODY_BYTES', 1024, 1024 * 1024 * 1024),
    defaultMaxTokens: integer('KEYGATE_DEFAULT_MAX_TOKENS', 1, 10_000_000),
    gatewayId,
    redisUrl,
    redisPrefix: text('KEYGATE_REDIS_PREFIX'),
    budgetFailOpen: boolean('KEYGATE_BUDGET_FAIL_OPEN'),
    logLevel,
    alertWebhookUrl,
    alertWebhookSecret,
    redis: redisParsed === undefined || 'problem' in redisParsed ? undefined : redisParsed,
    redisTimeoutMs: integer('KEYGATE_REDIS_TIMEOUT_MS', 1, 60_000),
    redisSettleBatchMs: integer('KEYGATE_REDIS_SETTLE_BATCH_MS', 0, 100),
    gatewayWorkers: integer('KEYGATE_GATEWAY_WORKERS', 1, 256),
    maxOutputTokens: integer('KEYGATE_MAX_OUTPUT_TOKENS', 1, 100_000_000),
    forwardHeaders: (optional('KEYGATE_FORWARD_HEADERS') ?? '')
      .split(',')
      .map((entry) => entry.trim().toLowerCase())
      .filter((entry) => entry !== ''),
    metricsToken: optional('KEYGATE_METRICS_TOKEN'),
    headersTimeoutMs: integer('KEYGATE_HEADERS_TIMEOUT_MS', 100, 3_600_000),
    requestTimeoutMs: integer('KEYGATE_REQUEST_TIMEOUT_MS', 100, 3_600_000),
    maxConnections: integer('KEYGATE_MAX_CONNECTIONS', 1, 1_000_000),
    requirePricing: boolean('KEYGATE_REQUIRE_PRICING'),
    spoolDir: text('KEYGATE_SPOOL_DIR'),
    shutdownTimeoutMs: integer('KEYGATE_SHUTDOWN_TIMEOUT_MS', 0, 3_600_000),
    adminLoadTimeoutMs: integer('KEYGATE_ADMIN_LOAD_TIMEOUT_MS', 10, 60_000),
    cacheStaleMs: integer('KEYGATE_CACHE_STALE_MS', 0, 86_400_000),
    upstreamConnectTimeoutMs: integer('KEYGATE_UPSTREAM_CONNECT_MS', 1, 600_000),
    upstreamIdleTimeoutMs: integer('KEYGATE_UPSTREAM_IDLE_MS', 1, 3_600_000),
    maxResponseBytes: integer('KEYGATE_MAX_RESPONSE_BYTES', 1024, 4 * 1024 * 1024 * 1024),
    sessionTtlMs: integer('KEYGATE_SESSION_TTL_MS', 60_000, 30 * 86_400_000),
    passwordLinkTtlMs: integer('KEYGATE_PASSWORD_LINK_TTL_MS', 60_000, 30 * 86_400_000),
    preloadKeys: integer('KEYGATE_PRELOAD_KEYS', 0, 100_000_000),
    adminMaxBodyBytes: integer('KEYGATE_ADMIN_MAX_BODY_BYTES', 1024, 1024 * 1024 * 1024),
    authFailurePoints: integer('KEYGATE_AUTH_FAILURE_POINTS', 0, 100_000_000),
    authFailureWindowSec: integer('KEYGATE_AUTH_FAILURE_WINDOW_SEC', 1, 86_400),
    authFailureBlockSec: integer('KEYGATE_AUTH_FAILURE_BLOCK_SEC', 1, 86_400),
    unknownKeyLoadsPerSec: integer('KEYGATE_UNKNOWN_KEY_LOADS_PER_SEC', 0, 100_000_000),
    providerEnvPrefix,
    providerEnvAllowlist,
  };
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    problems.push('KEYGATE_HEADERS_TIMEOUT_MS must not be above KEYGATE_REQUEST_TIMEOUT_MS');
  }
  if (config.gatewayWorkers > 1 && config.redis === undefined) {
    problems.push(
      `KEYGATE_GATEWAY_WORKERS=${config.gatewayWorkers} needs REDIS_URL: without Redis every worker keeps its own ` +
        `counters, so ${config.gatewayWorkers} workers would allow ${config.gatewayWorkers}× every limit and budget`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
