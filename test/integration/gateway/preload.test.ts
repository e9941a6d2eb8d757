/**
 * Warm start end to end, in-process (issue 15): an admin plane over a database of 2,500 used keys,
 * a gateway started with KEYGATE_PRELOAD_KEYS=2000 loads the 2,000 most recent ones in pages while
 * it serves, and /readyz reports the progress until done.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startAdmin } from '../../../admin/main.js';
import { seedKeys } from '../../../bench/seed.js';
import { startGateway } from '../../../gateway/main.js';
import { loadConfig } from '../../../src/config/config.js';
import { openDatabase } from '../../../src/storage/database.js';

const SECRET = 'preload-test-internal-secret-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'keygate-preload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gateway warm start (KEYGATE_PRELOAD_KEYS)', () => {
  it('preloads the most recently used keys in pages and reports the progress in /readyz', async () => {
    const dbPath = join(dir, 'keygate.db');
    const db = openDatabase(dbPath);
    db.exec(`INSERT INTO orgs (id, name, created_at, updated_at) VALUES ('org_p', 'p', 0, 0);
      INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES ('team_p', 'org_p', 'p', 0, 0);
      INSERT INTO service_accounts (id, team_id, name, created_at) VALUES ('sa_p', 'team_p', 's', 0);`);
    db.close();
    seedKeys({
      dbPath,
      teamId: 'team_p',
      serviceAccountId: 'sa_p',
      count: 2_500,
      namePrefix: 'p',
      lastUsed: true,
    });
    const logger = pino({ level: 'silent' });
    const admin = await startAdmin(
      loadConfig({
        KEYGATE_DB_PATH: dbPath,
        KEYGATE_ADMIN_PORT: '0',
        KEYGATE_MASTER_KEY: 'preload-test-master-key-0123456789',
        KEYGATE_INTERNAL_SECRET: SECRET,
        KEYGATE_GATEWAY_URLS: '',
        KEYGATE_LOG_LEVEL: 'silent',
      }),
      { logger },
    );
    try {
      const gateway = await startGateway(
        loadConfig({
          KEYGATE_GATEWAY_PORT: '0',
          KEYGATE_ADMIN_URL: admin.url,
          KEYGATE_INTERNAL_SECRET: SECRET,
          KEYGATE_PRELOAD_KEYS: '2000',
          KEYGATE_SPOOL_DIR: join(dir, 'spool'),
          KEYGATE_LOG_LEVEL: 'silent',
        }),
        { logger },
      );
      try {
        let body: { cachedKeys: number; preload: Record<string, unknown> } | undefined;
        for (let i = 0; i < 200; i++) {
          body = (await (await fetch(`${gateway.url}/readyz`)).json()) as typeof body;
          if (body!.preload.done === true) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(body!.preload).toMatchObject({
          target: 2_000,
          loaded: 2_000,
          cached: 2_000,
          done: true,
          error: null,
        });
        expect(body!.preload.tookMs).toEqual(expect.any(Number));
        expect(body!.cachedKeys).toBe(2_000);
      } finally {
        await gateway.close();
      }
    } finally {
      await admin.close();
    }
  });
});
