import { describe, expect, it } from 'vitest';
import { packageOf, summarizeProfile, type CpuProfile } from '../../../bench/profile.js';

const node = (id: number, functionName: string, url: string, hitCount: number) => ({
  id,
  callFrame: { functionName, url, lineNumber: id },
  hitCount,
});

describe('gateway CPU profile summary', () => {
  it('ranks self time by function and by package, leaving idle time out of the percentages', () => {
    const profile: CpuProfile = {
      nodes: [
        node(1, '(idle)', '', 1000),
        node(2, 'request', 'file:///w/node_modules/undici/lib/api/api-request.js', 30),
        node(3, 'dispatch', 'file:///w/node_modules/undici/lib/dispatcher/client.js', 20),
        node(4, 'authenticate', 'file:///w/dist/gateway/middleware/authenticate.js', 25),
        node(5, 'get', 'file:///w/dist/src/cache/key-policy-cache.js', 15),
        node(6, 'writeHead', 'node:_http_server', 10),
      ],
    };
    const { functions, packages } = summarizeProfile(profile);
    expect(packages.map((p) => [p.name, Math.round(p.percent)])).toEqual([
      ['undici', 50],
      ['keygate gateway', 25],
      ['keygate src/cache', 15],
      ['node internals', 10],
    ]);
    expect(functions[0]).toMatchObject({ name: 'request node_modules/undici/lib/api/api-request.js:3' });
    expect(functions.reduce((sum, f) => sum + f.percent, 0)).toBeCloseTo(100);
  });

  it('names scoped packages and keygate folders', () => {
    expect(packageOf('file:///w/node_modules/@hono/node-server/dist/index.mjs', 'x')).toBe(
      '@hono/node-server',
    );
    expect(packageOf('file:///w/dist/src/ratelimit/windows.js', 'x')).toBe('keygate src/ratelimit');
    expect(packageOf('', '(garbage collector)')).toBe('(garbage collector)');
  });
});
