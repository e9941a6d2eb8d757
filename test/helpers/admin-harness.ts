/**
 * An in-process admin plane over a fresh in-memory SQLite database, driven with app.request()
 * (real Hono routing, validation, auth and SQLite; no sockets).
 */
import pino from 'pino';
import { createAdminApp, type AdminApp } from '../../admin/app.js';
import { Credentials } from '../../admin/auth/credentials.js';
import type { AdminDeps } from '../../admin/context.js';
import type { ChangeBatch } from '../../src/invalidation/change.js';
import type { InvalidationBus } from '../../src/invalidation/invalidation-bus.js';
import { ManualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/config.js';
import { InternalTokens } from '../../src/invalidation/internal-token.js';
import { openDatabase } from '../../src/storage/database.js';

export const TEST_MASTER_KEY = 'test-master-key-0123456789';
export const TEST_INTERNAL_SECRET = 'test-internal-secret-0123456789-abcdef';

export interface TestAdmin {
  app: AdminApp;
  deps: AdminDeps;
  clock: ManualClock;
  /** Every published batch (`count` of them). */
  notifications: { count: number; batches: ChangeBatch[] };
  /** JSON request; `token` defaults to the master key, `null` sends no Authorization. */
  call(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /**
   * JSON request as a gateway: with an internal token signed with TEST_INTERNAL_SECRET, or with
   * `authorization` as given (`null`: no Authorization header).
   */
  callInternal(
    method: string,
    path: string,
    body?: unknown,
    authorization?: string | null,
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

export function createTestAdmin(env: Record<string, string> = {}): TestAdmin {
  const config = loadConfig({
    KEYGATE_DB_PATH: ':memory:',
    KEYGATE_MASTER_KEY: TEST_MASTER_KEY,
    KEYGATE_INTERNAL_SECRET: TEST_INTERNAL_SECRET,
    KEYGATE_LOG_LEVEL: 'silent',
    KEYGATE_PROVIDER_ENV_ALLOWLIST: 'OPENAI_API_KEY',
    // In-process requests share one client address; tests of the throttle turn it on.
    KEYGATE_AUTH_FAILURE_POINTS: '0',
    ...env,
  });
  const db = openDatabase(':memory:');
  const clock = new ManualClock(Date.now());
  const notifications = { count: 0, batches: [] as ChangeBatch[] };
  const invalidation: InvalidationBus = {
    publish: (batch) => {
      notifications.count++;
      notifications.batches.push(batch);
    },
    close: () => Promise.resolve(),
  };
  const deps: AdminDeps = {
    db,
    config,
    clock,
    credentials: new Credentials(db, config),
    internalTokens: new InternalTokens(TEST_INTERNAL_SECRET),
    invalidation,
    logger: pino({ level: 'silent' }),
  };
  const app = createAdminApp(deps);
  const internal = new InternalTokens(TEST_INTERNAL_SECRET);
  const admin: TestAdmin = {
    app,
    deps,
    clock,
    notifications,
    async callInternal(method, path, body, authorization) {
      const header = authorization === undefined ? await internal.authorizationHeader() : authorization;
      return admin.call(method, path, {
        token: null,
        ...(body === undefined ? {} : { body }),
        headers: header === null ? {} : { authorization: header },
      });
    },
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? TEST_MASTER_KEY : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      }
      const response = await app.request(path, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? null : JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
  };
  return admin;
}
