/**
 * The console's static files (`GET /console/assets/:name`): one script, one stylesheet, one icon,
 * read once from admin/console/assets/ of the package (works from the sources and from dist/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorBody } from '../../src/errors/keygate-error.js';
import type { AdminApp } from '../app.js';

const TYPES: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/** admin/console/assets of the package root (the nearest folder up with a package.json). */
function assetDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('keygate package root not found');
    dir = parent;
  }
  return join(dir, 'admin', 'console', 'assets');
}

export function registerConsoleAssets(app: AdminApp): void {
  const dir = assetDir();
  const files = new Map(Object.keys(TYPES).map((name) => [name, readFileSync(join(dir, name))]));
  app.get('/console/assets/:name', (c) => {
    const name = c.req.param('name');
    const body = files.get(name);
    if (body === undefined) return c.json(errorBody('not_found', { requestId: c.get('requestId') }), 404);
    return c.body(new Uint8Array(body), 200, {
      'content-type': TYPES[name]!,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
  });
}
