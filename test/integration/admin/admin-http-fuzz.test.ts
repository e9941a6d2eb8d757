/**
 * The admin plane under fuzz (issue 10 "Done means"): 5,000+ fast-check cases over HTTP
 * (in-process `app.request()`: real routing, auth, validation, SQLite) across every /v1 route of
 * /openapi.json, with random callers (every role, the master key, garbage tokens), ids (own,
 * foreign, unknown, hostile), bodies (arbitrary JSON, field soup, hostile strings, huge and
 * non-finite-looking numbers, deep nesting, broken JSON) and query strings. Asserted for every
 * answer: no 5xx, and every non-2xx answer is the documented error shape with the registry's
 * status for its code and the request id. Each case runs in a transaction rolled back afterwards.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERROR_REGISTRY, type ErrorCode } from '../../../src/errors/registry.js';
import { BODY_FIELDS, QUERY_KEYS } from './admin-fuzz-vocabulary.js';
import { CALLERS, createWorld, type World } from './identity-world.js';

const CASES = 5_000;

interface Route {
  method: string;
  path: string;
}

const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u202Eb',
    '\r\n',
    '../../etc/passwd',
    "' OR 1=1 --",
    '%00',
    '{{7*7}}',
    'x'.repeat(5000),
    'all',
    'restrict',
    'inherit',
    'org_owner',
    'platform_admin',
    'KEYGATE_MASTER_KEY',
    'KEYGATE_PROVIDER_KEY_X',
    'http://127.0.0.1:9/v1',
    'javascript:alert(1)',
    '2026-01-01T00:00:00Z',
  ),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53, 2 ** 63, 1e-320, 0.1 + 0.2, 450_000),
);

function deep(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('admin plane fuzz: no 5xx, every error in the documented shape', () => {
  let w: World;
  let routes: Route[];
  beforeAll(async () => {
    w = await createWorld();
    const doc = (await w.admin.call('GET', '/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => ({ method: m.toUpperCase(), path })),
      );
    expect(routes.length).toBeGreaterThan(40);
  });

  const ids = (): string[] => [
    w.orgs.A,
    w.orgs.B,
    w.orgs.C,
    w.teams.A1,
    w.teams.B1,
    w.teams.A3,
    w.users.memA,
    w.users.b1member,
    w.users.newcomer,
    w.users.org_owner,
    w.keys.teammate,
    w.keys.b1,
    w.serviceAccounts.A1,
    w.serviceAccounts.B1,
    w.targets.shared,
    w.groups.global,
    w.groups.A,
    w.groups.B,
    'unknown',
    'usr_0',
    '%2e%2e',
    'a'.repeat(128),
    '0',
  ];

  const value = fc.letrec((tie) => ({
    leaf: fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null)),
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tie('leaf'),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom(...BODY_FIELDS), tie('node'), { maxKeys: 5 }),
    ),
  })).node;

  const body = fc.oneof(
    { arbitrary: fc.dictionary(fc.constantFrom(...BODY_FIELDS), value, { maxKeys: 8 }), weight: 6 },
    { arbitrary: fc.jsonValue(), weight: 2 },
    { arbitrary: fc.constant(undefined), weight: 1 },
    {
      arbitrary: fc.constantFrom('{"name":', '[', 'null', '"x"', '{"name":"a","name":"b"}', '\u0000'),
      weight: 1,
    },
    {
      arbitrary: fc
        .integer({ min: 50, max: 3000 })
        .map((d) => JSON.stringify({ name: 'n', access: deep(d) })),
      weight: 1,
    },
  );

  const caseArb = fc.record({
    route: fc.nat(),
    caller: fc.constantFrom(...CALLERS, 'garbage' as const),
    idA: fc.nat(),
    idB: fc.nat(),
    body,
    query: fc.array(fc.tuple(fc.constantFrom(...QUERY_KEYS), hostileString), { maxLength: 3 }),
    contentType: fc.constantFrom(
      'application/json',
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      undefined,
    ),
  });

  it(`${CASES} random requests across every route`, async () => {
    const codes = new Set(Object.keys(ERROR_REGISTRY));
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const route = routes[c.route % routes.length]!;
        const all = ids();
        let used = 0;
        const path = route.path.replace(/\{[^}]+\}/g, () =>
          encodeURIComponent(all[(used++ === 0 ? c.idA : c.idB) % all.length]!),
        );
        const query = new URLSearchParams(c.query).toString();
        const token = c.caller === 'garbage' ? 'eyJhbGciOiJub25lIn0.e30.' : w.token(c.caller);
        const headers: Record<string, string> = {};
        if (c.contentType !== undefined) headers['content-type'] = c.contentType;
        await w.rolledBack(async () => {
          const response = await w.admin.call(route.method, query === '' ? path : `${path}?${query}`, {
            token,
            headers,
            ...(c.body === undefined || route.method === 'GET'
              ? {}
              : { body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) }),
          });
          seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
          const where = `${route.method} ${path}?${query} as ${c.caller}: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`;
          expect(response.status, where).toBeLessThan(500);
          expect(response.headers.get('x-request-id'), where).toBeTruthy();
          if (response.status >= 400) {
            const error = response.body?.error;
            expect(typeof error?.message, where).toBe('string');
            expect(typeof error?.type, where).toBe('string');
            expect(codes.has(error?.code), where).toBe(true);
            expect(error.param === null || typeof error.param === 'string', where).toBe(true);
            expect(ERROR_REGISTRY[error.code as ErrorCode].status, where).toBe(response.status);
            expect(error.request_id, where).toBe(response.headers.get('x-request-id'));
          }
        });
      }),
      { numRuns: CASES, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    // The fuzz reached past the guards: successes and refusals of several kinds.
    expect([...seen.keys()].filter((s) => s < 300).length).toBeGreaterThan(0);
    expect([...seen.keys()].filter((s) => s >= 400).length).toBeGreaterThan(3);
  }, 240_000);
});
