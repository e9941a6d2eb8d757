/**
 * "Never a 500 for user input" (issue 2) for the identity routes: arbitrary JSON bodies and
 * query strings against users, teams, memberships, service accounts, audit and usage answer
 * 2xx/4xx, and every 400 names a `param` or explains itself.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { BODY_FIELDS, QUERY_KEYS } from './admin-fuzz-vocabulary.js';
import { createWorld, type World } from './identity-world.js';

describe('identity routes never answer 5xx to user input', () => {
  let w: World;
  beforeAll(async () => {
    w = await createWorld();
  });

  const routes = (): [string, string][] => [
    ['POST', '/v1/users'],
    ['PATCH', `/v1/users/${w.users.memA}`],
    ['POST', `/v1/users/${w.users.memA}/tokens`],
    ['POST', '/v1/teams'],
    ['PATCH', `/v1/teams/${w.teams.A3}`],
    ['PUT', `/v1/teams/${w.teams.A3}/members/${w.users.newcomer}`],
    ['PUT', `/v1/orgs/${w.orgs.C}/members/${w.users.newcomer}`],
    ['POST', `/v1/teams/${w.teams.A3}/service-accounts`],
  ];

  const fieldNames = fc.constantFrom(...BODY_FIELDS);
  const body = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fieldNames, fc.oneof(fc.jsonValue(), fc.dictionary(fieldNames, fc.jsonValue()))),
  );

  it('arbitrary JSON bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 7 }), body, async (index, payload) => {
        const [method, path] = routes()[index]!;
        await w.rolledBack(async () => {
          const response = await w.admin.call(method, path, { body: JSON.stringify(payload) });
          expect(response.status, `${method} ${path} ${JSON.stringify(payload)}`).toBeLessThan(500);
          if (response.status === 400) expect(response.body.error.code).toBe('invalid_request');
        });
      }),
      { numRuns: 400 },
    );
  });

  it('broken JSON and wrong content types', async () => {
    for (const [method, path] of routes()) {
      for (const [text, type] of [
        ['{"email":', 'application/json'],
        ['', 'application/json'],
        ['email=x', 'application/x-www-form-urlencoded'],
        ['null', 'text/plain'],
      ] as const) {
        const response = await w.admin.call(method, path, { body: text, headers: { 'content-type': type } });
        expect(response.status, `${method} ${path} ${type} ${text}`).toBeLessThan(500);
        expect(response.status).toBeGreaterThanOrEqual(200);
      }
    }
  });

  it('arbitrary query strings on lists, audit and usage', async () => {
    const keys = fc.constantFrom(...QUERY_KEYS);

    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/v1/users',
          '/v1/teams',
          '/v1/audit',
          '/v1/usage',
          `/v1/teams/${w.teams.A1}/service-accounts`,
        ),
        fc.array(fc.tuple(keys, fc.string()), { maxLength: 4 }),
        async (path, pairs) => {
          const query = new URLSearchParams(pairs).toString();
          const response = await w.admin.call('GET', `${path}?${query}`);
          expect(response.status, `${path}?${query}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });
});
