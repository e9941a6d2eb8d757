/**
 * The import rules of docs/design.md "Where things are", checked on the source: the gateway and
 * the admin plane never import each other (both import src/), src/ imports neither, and SQLite
 * (better-sqlite3) is imported only by src/storage (no-sql-outside-storage.test.ts keeps the SQL
 * there too).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PRODUCT = ['src', 'admin', 'gateway', 'bin', 'bench'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (/\.(ts|tsx|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module specifier of a file: static imports, re-exports and dynamic import(). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;
  for (const match of text.matchAll(pattern)) found.push(match[1]!);
  return found;
}

interface Edge {
  from: string;
  /** Repository-relative path for relative imports, the package name otherwise. */
  to: string;
}

const edges: Edge[] = PRODUCT.flatMap((dir) =>
  sources(dir).flatMap((file) =>
    specifiers(readFileSync(join(ROOT, file), 'utf8')).map((spec) => ({
      from: file,
      to: spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)) : spec,
    })),
  ),
);

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

describe('architecture: who may import what', () => {
  it('reads the product sources (the rule cannot pass vacuously)', () => {
    expect(edges.some((e) => under(e.from, 'gateway') && under(e.to, 'src'))).toBe(true);
    expect(edges.some((e) => e.to === 'better-sqlite3')).toBe(true);
  });

  it('gateway/ never imports admin/, admin/ never imports gateway/', () => {
    const crossing = edges.filter(
      (e) =>
        (under(e.from, 'gateway') && under(e.to, 'admin')) ||
        (under(e.from, 'admin') && under(e.to, 'gateway')),
    );
    expect(crossing).toEqual([]);
  });

  it('src/ imports neither plane', () => {
    expect(
      edges.filter((e) => under(e.from, 'src') && (under(e.to, 'admin') || under(e.to, 'gateway'))),
    ).toEqual([]);
  });

  it('only src/storage imports SQLite (better-sqlite3)', () => {
    const sqlite = edges.filter((e) => e.to === 'better-sqlite3' && !under(e.from, 'src/storage'));
    expect(sqlite).toEqual([]);
  });

  it('the rule finds a violation when there is one (self-check on a made-up edge)', () => {
    const fake: Edge = { from: 'gateway/x.ts', to: 'admin/y' };
    expect(under(fake.from, 'gateway') && under(fake.to, 'admin')).toBe(true);
    expect(
      specifiers("import { a } from '../admin/y.js';\nconst m = await import('better-sqlite3');"),
    ).toEqual(['../admin/y.js', 'better-sqlite3']);
  });
});
