/**
 * Issue 11 item 2: route files hold no SQL. Every query of admin/routes, admin/keys and the
 * console sign-in lives in a src/storage repository; these files only call them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIRS = ['admin/routes', 'admin/keys'];
const FILES = ['admin/console/sign-in-routes.tsx'];

/** A prepared statement, or SQL text (statement keywords followed by their SQL clause). */
const SQL =
  /\.prepare\s*[(<]|\bSELECT\s+[\w*]|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b|\bjson_each\(/;

function files(): string[] {
  const listed = DIRS.flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .filter((name) => /\.tsx?$/.test(name))
      .map((name) => `${dir}/${name}`),
  );
  return [...listed, ...FILES];
}

function sqlLines(path: string): string[] {
  return readFileSync(join(ROOT, path), 'utf8')
    .split('\n')
    .flatMap((line, index) => (SQL.test(line) ? [`${path}:${index + 1}: ${line.trim()}`] : []));
}

describe('architecture: route files hold no SQL', () => {
  it('reads the route files (the rule cannot pass vacuously)', () => {
    expect(files().length).toBeGreaterThan(20);
  });

  it('admin/routes, admin/keys and the console sign-in have no prepare() call and no SQL text', () => {
    expect(files().flatMap(sqlLines)).toEqual([]);
  });

  it('the pattern finds SQL when there is some (self-check)', () => {
    expect(SQL.test("db.prepare('SELECT 1')")).toBe(true);
    expect(SQL.test('`UPDATE keys SET name = ?`')).toBe(true);
    expect(SQL.test("'DELETE FROM users WHERE id = ?'")).toBe(true);
    expect(SQL.test('// a user may update their name')).toBe(false);
  });
});
