/**
 * Issue 11 item 2: no SQL outside src/storage. Every query of the admin plane (routes, keys, auth,
 * the internal API, the console) and of the CLI lives in a src/storage repository; admin/ and
 * bin/ only call them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIRS = ['admin', 'bin'];

/** A prepared statement or a raw exec, or SQL text (statement keywords followed by their SQL clause). */
const SQL =
  /\.(?:prepare|exec)\s*[(<]\s*['"`]|\.prepare\s*[(<]|\bSELECT\s+[\w*]|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b|\b(?:CREATE|DROP)\s+(?:TEMP\s+)?(?:TABLE|INDEX)\b|\bjson_each\(/;

/** Every .ts/.tsx file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function files(): string[] {
  return DIRS.flatMap(sources);
}

function sqlLines(path: string): string[] {
  return readFileSync(join(ROOT, path), 'utf8')
    .split('\n')
    .flatMap((line, index) => (SQL.test(line) ? [`${path}:${index + 1}: ${line.trim()}`] : []));
}

describe('architecture: no SQL outside src/storage', () => {
  it('reads every file of admin/ and bin/ (the rule cannot pass vacuously)', () => {
    const all = files();
    expect(all.length).toBeGreaterThan(60);
    for (const path of ['admin/routes/keys.ts', 'admin/internal/apply-usage.ts', 'bin/doctor-checks.ts'])
      expect(all).toContain(path);
  });

  it('no file under admin/ or bin/ has a prepare() or exec() call or SQL text', () => {
    expect(files().flatMap(sqlLines)).toEqual([]);
  });

  it('the pattern finds SQL when there is some (self-check)', () => {
    expect(SQL.test("db.prepare('SELECT 1')")).toBe(true);
    expect(SQL.test('`UPDATE keys SET name = ?`')).toBe(true);
    expect(SQL.test("'DELETE FROM users WHERE id = ?'")).toBe(true);
    expect(SQL.test("'INSERT OR IGNORE INTO usage_batches VALUES (?)'")).toBe(true);
    expect(SQL.test('this.db.prepare<[string]>(sql)')).toBe(true);
    expect(SQL.test("db.exec('PRAGMA optimize')")).toBe(true);
    expect(SQL.test('CREATE TEMP TABLE IF NOT EXISTS x (a)')).toBe(true);
    expect(SQL.test('/^([a-z]+:\\/\\/)(.*)$/.exec(entry)')).toBe(false);
    expect(SQL.test('// a user may update their name')).toBe(false);
  });
});
