/**
 * Issue 10 item 7: the data directory is 0700, the database 0600, and generated secrets live in a
 * 0600 file next to the database, never in it (read access to the DB must not forge a JWT).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdmin } from '../../../admin/main.js';
import { loadConfig } from '../../../src/config/config.js';
import { getMeta, openDatabase, setMeta } from '../../../src/storage/database.js';
import { secretsFilePath } from '../../../src/storage/local-secrets.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function config(dbPath: string) {
  return loadConfig({
    KEYGATE_DB_PATH: dbPath,
    KEYGATE_ADMIN_PORT: '0',
    KEYGATE_MASTER_KEY: 'file-perm-master-key-0123',
    KEYGATE_LOG_LEVEL: 'silent',
    KEYGATE_GATEWAY_URLS: '',
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('file permissions and generated secrets', () => {
  it('creates the data dir 0700, the DB 0600, and keeps the jwt secret in a 0600 file, not in the DB', async () => {
    const root = mkdtempSync(join(tmpdir(), 'keygate-perm-'));
    dirs.push(root);
    const dbPath = join(root, 'data', 'keygate.db');
    const admin = await startAdmin(config(dbPath));
    const users = await fetch(`${admin.url}/v1/users`, {
      method: 'POST',
      headers: { authorization: 'Bearer file-perm-master-key-0123', 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'perm@example.test' }),
    });
    const user = (await users.json()) as { id: string };
    const minted = await fetch(`${admin.url}/v1/users/${user.id}/tokens`, {
      method: 'POST',
      headers: { authorization: 'Bearer file-perm-master-key-0123', 'content-type': 'application/json' },
      body: '{}',
    });
    const { token } = (await minted.json()) as { token: string };
    await admin.close();

    expect(mode(join(root, 'data'))).toBe(0o700);
    expect(mode(dbPath)).toBe(0o600);
    expect(mode(secretsFilePath(dbPath))).toBe(0o600);
    const secrets = JSON.parse(readFileSync(secretsFilePath(dbPath), 'utf8')) as Record<string, string>;
    expect(secrets.jwt_secret?.length).toBeGreaterThanOrEqual(32);
    const db = openDatabase(dbPath);
    expect(getMeta(db, 'jwt_secret')).toBeUndefined();
    expect(getMeta(db, 'internal_secret')).toBeUndefined();
    const dump = JSON.stringify(db.prepare('SELECT * FROM meta').all());
    expect(dump).not.toContain(secrets.jwt_secret);
    db.close();

    // The same secret after a restart: the token minted before still works.
    const again = await startAdmin(config(dbPath));
    const me = await fetch(`${again.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    await again.close();
  });

  it('moves a secret an earlier version stored in the DB into the file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'keygate-perm-'));
    dirs.push(root);
    const dbPath = join(root, 'keygate.db');
    const db = openDatabase(dbPath);
    setMeta(db, 'jwt_secret', 'legacy-jwt-secret-0123456789-0123456789');
    db.close();
    const admin = await startAdmin(config(dbPath));
    await admin.close();
    const secrets = JSON.parse(readFileSync(secretsFilePath(dbPath), 'utf8')) as Record<string, string>;
    expect(secrets.jwt_secret).toBe('legacy-jwt-secret-0123456789-0123456789');
    const reopened = openDatabase(dbPath);
    expect(getMeta(reopened, 'jwt_secret')).toBeUndefined();
    reopened.close();
  });
});
