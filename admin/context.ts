/** The admin plane's dependencies and per-request variables (wired in admin/main.ts). */
import type { Logger } from 'pino';
import type { Clock } from '../src/clock.js';
import type { Config } from '../src/config/config.js';
import type { Database } from '../src/storage/database.js';
import type { AuthFailureThrottle } from '../src/ratelimit/auth-failure-throttle.js';
import type { InternalTokens } from '../src/invalidation/internal-token.js';
import type { InvalidationBus } from '../src/invalidation/invalidation-bus.js';
import type { AdminMetrics } from './admin-metrics.js';
import type { AccessView } from './auth/access.js';
import type { SoftBudgetAlert } from './internal/apply-usage.js';
import type { GatewayCounterSource } from './keys/gateway-counters.js';
import type { Credentials } from './auth/credentials.js';

export interface AdminDeps {
  db: Database;
  config: Readonly<Config>;
  clock: Clock;
  credentials: Credentials;
  internalTokens: InternalTokens;
  /** Receives the change-log rows of every commit; never blocks a response. */
  invalidation: InvalidationBus;
  logger: Logger;
  /** HTTP, SQLite write and usage-batch metrics, served at GET /metrics (created if absent). */
  metrics?: AdminMetrics;
  /** Failed-authentication throttle; default: in memory, from the KEYGATE_AUTH_FAILURE_* settings. */
  authThrottle?: AuthFailureThrottle;
  /** Soft-budget alert delivery (KEYGATE_ALERT_WEBHOOK_URL); absent = audit entry only. */
  alerts?: AlertSink;
  /** The gateways' live counters for `GET /v1/keys/{id}/explain`; absent = admin figures only. */
  gatewayCounters?: GatewayCounterSource;
}

/** Delivers a soft-budget alert after the commit that raised it; never blocks or throws. */
export interface AlertSink {
  send(alert: SoftBudgetAlert): void;
}

export interface AdminEnv {
  Variables: {
    requestId: string;
    access: AccessView;
  };
}
