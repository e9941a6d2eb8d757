import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { checkDatabase, effectiveConfig, maskValue } from '../../../bin/doctor-checks.js';
import { openDatabase, SCHEMA_VERSION } from '../../../src/storage/database.js';
import { localUrl } from '../../../bin/health.js';

describe('keygate doctor: configuration display', () => {
  it('masks secrets to 4 characters and the length, and the password of URLs', () => {
    expect(maskValue('KEYGATE_MASTER_KEY', 'kgm_abcdefghijklmnop')).toBe('kgm_… (20 characters, masked)');
    expect(maskValue('KEYGATE_INTERNAL_SECRET', 'x'.repeat(40))).not.toContain('x'.repeat(5));
    expect(maskValue('REDIS_URL', 'redis://:s3cret@cache:6379/0')).toBe('redis://:****@cache:6379/0');
    expect(maskValue('KEYGATE_ADMIN_URL', 'http://admin:4100')).toBe('http://admin:4100');
  });

  it('lists every variable, marking defaults, never printing a secret', () => {
    const lines = effectiveConfig({ KEYGATE_JWT_SECRET: 'j'.repeat(40), KEYGATE_ADMIN_PORT: '5100' });
    expect(lines.some((line) => /^KEYGATE_ADMIN_PORT +5100$/.test(line))).toBe(true);
    expect(lines.some((line) => /^KEYGATE_GATEWAY_PORT +4000 +\[default\]$/.test(line))).toBe(true);
    expect(lines.some((line) => /^KEYGATE_MASTER_KEY +\(unset\) +\[default\]$/.test(line))).toBe(true);
    expect(lines.join('\n')).not.toContain('j'.repeat(5));
  });

  it('reaches a wildcard listen host through the loopback address', () => {
    expect(localUrl('0.0.0.0', 4000)).toBe('http://127.0.0.1:4000');
    expect(localUrl('::', 4000)).toBe('http://[::1]:4000');
    expect(localUrl('::1', 4000)).toBe('http://[::1]:4000');
    expect(localUrl('10.0.0.5', 4100)).toBe('http://10.0.0.5:4100');
  });

  it('says the schema version: current, older (migrated at the next start), or newer than the code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-doctor-schema-'));
    const path = join(dir, 'keygate.db');
    openDatabase(path).close();
    const schema = () => checkDatabase(path).findings.find((f) => f.message.includes('schema version'));
    expect(schema()).toEqual({ level: 'ok', message: `database schema version ${SCHEMA_VERSION} (current)` });
    const raw = new BetterSqlite3(path);
    raw.prepare('DELETE FROM schema_migrations WHERE version = ?').run(SCHEMA_VERSION);
    expect(schema()).toMatchObject({ level: 'warn' });
    expect(schema()!.message).toContain(`migrates it to ${SCHEMA_VERSION} at its next start`);
    raw
      .prepare("INSERT INTO schema_migrations VALUES (?, 'later', 0), (?, 'later', 0)")
      .run(SCHEMA_VERSION, SCHEMA_VERSION + 1);
    raw.close();
    expect(schema()).toMatchObject({ level: 'fail' });
  });
});
