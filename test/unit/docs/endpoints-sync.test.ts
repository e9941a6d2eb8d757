/**
 * docs/api.md's endpoint index lists exactly the routes that exist on both planes: a route added
 * to the code without documentation, or documented without existing, fails this test.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestAdmin } from '../../helpers/admin-harness.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');

function documented(plane: string): string[] {
  const rows = doc
    .split('\n')
    .map((line) => line.split('|').map((cell) => cell.trim()))
    .filter((cells) => cells[1] === plane);
  return rows.map((cells) => `${cells[2]} ${cells[3]!.replaceAll('`', '')}`).sort();
}

function registered(routes: readonly { method: string; path: string }[]): string[] {
  const unique = new Set(
    routes.filter((route) => route.method !== 'ALL').map((route) => `${route.method} ${route.path}`),
  );
  return [...unique].sort();
}

let harness: Harness | undefined;
afterAll(async () => harness?.close());

describe('docs/api.md endpoint index', () => {
  it('lists exactly the admin plane routes', () => {
    const admin = createTestAdmin();
    expect(documented('admin')).toEqual(registered(admin.app.routes));
  });

  it('documents every public admin route in /openapi.json (internal routes stay out of it)', async () => {
    const admin = createTestAdmin();
    const spec = (await admin.call('GET', '/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const inSpec = Object.entries(spec.paths)
      .flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      )
      .sort();
    const publicRoutes = registered(admin.app.routes).filter((route) =>
      route.split(' ')[1]!.startsWith('/v1/'),
    );
    expect(inSpec).toEqual(publicRoutes);
  });

  it('lists exactly the gateway routes', async () => {
    harness = await startHarness();
    expect(documented('gateway')).toEqual(registered(harness.app.routes));
  });
});
