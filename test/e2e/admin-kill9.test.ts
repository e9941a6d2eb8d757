/**
 * DESIGN.md "Quality bars": kill -9 of the admin plane loses no acknowledged write and leaves an
 * intact database (WAL + synchronous=FULL). Writes are acknowledged by 201 answers; the process
 * is killed while more writes are in flight; every acknowledged org must be there afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { spawnAdmin } from '../helpers/processes.js';

const MASTER_KEY = 'kill9-master-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'keygate-kill9-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('admin plane under kill -9', () => {
  it('keeps every acknowledged write and an intact database', async () => {
    const dbPath = join(dir, 'keygate.db');
    const admin = await spawnAdmin({
      KEYGATE_DB_PATH: dbPath,
      KEYGATE_MASTER_KEY: MASTER_KEY,
      KEYGATE_GATEWAY_URLS: '',
      KEYGATE_INTERNAL_SECRET: 'kill9-internal-secret-0123456789abcdef',
    });
    const acknowledged: string[] = [];
    let stop = false;
    const writer = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const response = await fetch(`${admin.url}/v1/orgs`, {
            method: 'POST',
            headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name: `org-${worker}-${i}`, rpm_limit: 10 }),
          });
          const body = (await response.json()) as { id: string };
          if (response.status === 201) acknowledged.push(body.id);
        } catch {
          return; // the process is gone
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, worker) => writer(worker));
    while (acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 5));
    admin.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await admin.stop();

    const db = openDatabase(dbPath);
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const stored = new Set(
        (db.prepare('SELECT id FROM orgs').all() as { id: string }[]).map((row) => row.id),
      );
      const missing = acknowledged.filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
      // Every stored org has its audit row and change-log row (same transaction).
      const audits = db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'org.create'").get() as {
        n: number;
      };
      const changes = db.prepare("SELECT COUNT(*) AS n FROM change_log WHERE entity_type = 'org'").get() as {
        n: number;
      };
      expect(audits.n).toBe(stored.size);
      expect(changes.n).toBe(stored.size);
    } finally {
      db.close();
    }
  }, 60_000);
});
