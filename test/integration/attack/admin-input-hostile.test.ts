/**
 * Attack findings on admin input edges (pagination, names, expiry, limits, budgets, metadata):
 * - Key `metadata` nested a few thousand levels deep (a ~30 kB body, well under the body limit)
 *   → 500 internal_error: JSON.stringify overflowed the stack before the 16 kB size check. Metadata
 *   is now refused past 64 levels with 400 invalid_request, `param: metadata`, on create and PATCH.
 * - `GET /v1/usage` took impossible or offset-less times: `since=2030-02-30T00:00:00Z` was read as
 *   March 2 (Date.parse rolls the day over), `from=2030-02-31T12:00:00Z` as March 3, and
 *   `since=2030-01-01T00:00:00` in the admin process's local time zone. They are now 400
 *   invalid_request naming the parameter, as `expires_at` already was; `since` after `until` is
 *   400 naming `since`, as `from` after `to` already was.
 * Held (kept here as regressions): limit 0/negative/huge/non-numeric, garbled or forged cursors,
 * impossible or out-of-range expiry dates, 2^53 limits, unknown fields, cross-org ids in body
 * fields (team_id, owner.id, access_groups, org_id).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../admin/identity-world.js';

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

let w: World;
beforeAll(async () => {
  w = await createWorld();
});

describe('key metadata nesting', () => {
  it('a deeply nested metadata object is a 400 naming metadata, on create and on PATCH', async () => {
    const create = await w.admin.call('POST', '/v1/keys', {
      body: `{"name":"deep","team_id":"${w.teams.A1}","metadata":${nested(5000)}}`,
    });
    expect(create.status).toBe(400);
    expect(create.body.error).toMatchObject({ code: 'invalid_request', param: 'metadata' });
    const patch = await w.admin.call('PATCH', `/v1/keys/${w.keys.teammate}`, {
      body: `{"metadata":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
    });
    expect(patch.status).toBe(400);
    expect(patch.body.error).toMatchObject({ code: 'invalid_request', param: 'metadata' });
  });

  it('metadata 64 levels deep is still accepted; 65 is not', async () => {
    const ok = await w.admin.call('POST', '/v1/keys', {
      body: `{"name":"deep-ok","team_id":"${w.teams.A1}","metadata":${nested(64)}}`,
    });
    expect(ok.status).toBe(201);
    const tooDeep = await w.admin.call('POST', '/v1/keys', {
      body: `{"name":"deep-no","team_id":"${w.teams.A1}","metadata":${nested(65)}}`,
    });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.error.param).toBe('metadata');
  });
});

describe('usage time bounds', () => {
  it('impossible days, offset-less times and since after until are 400 naming the parameter', async () => {
    const org = `org_id=${w.orgs.A}`;
    const cases: [string, string][] = [
      ['since=2030-02-30T00:00:00Z', 'since'],
      ['until=2030-02-31T00:00:00Z', 'until'],
      ['since=2030-01-01T24:00:00Z', 'since'],
      ['since=2030-01-01T00:00:00', 'since'],
      ['from=2030-02-31T12:00:00Z', 'from'],
      ['to=2030-02-30T00:00:00Z', 'to'],
      ['to=2030-01-01T00:00:00', 'to'],
      ['since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z', 'since'],
    ];
    for (const [query, param] of cases) {
      const answer = await w.admin.call('GET', `/v1/usage?${org}&${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error, query).toMatchObject({ code: 'invalid_request', param });
    }
  });

  it('valid instants with offsets still work (floored to the UTC hour / counted as their UTC day)', async () => {
    const answer = await w.admin.call(
      'GET',
      `/v1/usage?org_id=${w.orgs.A}&since=2030-01-01T00:30:00%2B14:00&until=2030-01-01T10:00:00.5Z`,
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      since: '2029-12-31T10:00:00.000Z',
      until: '2030-01-01T10:00:00.000Z',
    });
    const days = await w.admin.call(
      'GET',
      `/v1/usage?org_id=${w.orgs.A}&from=2030-01-02T01:00:00%2B05:00&to=2030-01-01`,
    );
    expect(days.status).toBe(200);
    expect(days.body).toMatchObject({ from: '2030-01-01', to: '2030-01-01' });
  });
});

describe('input edges that held', () => {
  it('pagination parameters: bad limits are 400 naming limit, garbled cursors never 500', async () => {
    for (const path of [
      '/v1/keys',
      '/v1/users',
      '/v1/orgs',
      '/v1/teams',
      '/v1/targets',
      '/v1/access-groups',
    ]) {
      for (const limit of ['0', '-1', 'abc', '1.5', '99999999999999999999', '1001']) {
        const r = await w.admin.call('GET', `${path}?limit=${limit}`);
        expect(r.status, `${path} ${limit}`).toBe(400);
        expect(r.body.error.param).toBe('limit');
      }
      for (const cursor of [
        '%25%25',
        'zzz!!',
        Buffer.from("0\n' OR 1=1 --").toString('base64url'),
        Buffer.from('1e400\nx').toString('base64url'),
      ]) {
        const r = await w.admin.call('GET', `${path}?cursor=${cursor}`);
        expect(r.status, `${path} ${cursor}`).toBeLessThan(500);
      }
    }
    const audit = await w.admin.call('GET', '/v1/audit?cursor=zzz');
    expect(audit.status).toBe(400);
    expect(audit.body.error.param).toBe('cursor');
  });

  it('expiry: past, impossible and non-ISO dates are 400 naming expires_at; offsets are honoured', async () => {
    for (const at of [
      '2020-01-01T00:00:00Z',
      '2030-02-30T00:00:00Z',
      '2030-01-01T24:00:00Z',
      '2030-01-01',
      'tomorrow',
      '+275760-09-13T00:00:00Z',
    ]) {
      const r = await w.admin.call('POST', '/v1/keys', {
        body: { name: 'e', team_id: w.teams.A1, expires_at: at },
      });
      expect(r.status, at).toBe(400);
      expect(r.body.error.param).toBe('expires_at');
    }
    const offset = await w.admin.call('POST', '/v1/keys', {
      body: { name: 'e', team_id: w.teams.A1, expires_at: '2030-01-01T00:00:00+14:00' },
    });
    expect(offset.status).toBe(201);
    expect(offset.body.key.expires_at).toBe('2029-12-31T10:00:00.000Z');
  });

  it('limits at 0, 2^53, floats and strings are 400 naming the field', async () => {
    for (const value of [0, 2 ** 53, 1.5, '5', -1]) {
      const r = await w.admin.call('POST', '/v1/keys', {
        body: { name: 'l', team_id: w.teams.A1, rpm_limit: value },
      });
      expect(r.status, String(value)).toBe(400);
      expect(r.body.error.param).toBe('rpm_limit');
    }
  });

  it('ids of another org in body fields are 404/400 naming the field, never a leak', async () => {
    const owner = w.token('org_owner');
    const cases: [unknown, string][] = [
      [{ name: 'x', team_id: w.teams.B1 }, 'team_id'],
      [
        { name: 'x', team_id: w.teams.A1, owner: { type: 'service_account', id: w.serviceAccounts.B1 } },
        'owner.id',
      ],
      [
        {
          name: 'x',
          team_id: w.teams.A1,
          access: { mode: 'restrict', targets: [], access_groups: [w.groups.B] },
        },
        'access.access_groups',
      ],
    ];
    for (const [body, param] of cases) {
      const r = await w.admin.call('POST', '/v1/keys', { body, token: owner });
      expect([400, 404]).toContain(r.status);
      expect(r.body.error.param).toBe(param);
    }
    const team = await w.admin.call('POST', '/v1/teams', {
      body: { org_id: w.orgs.B, name: 'x' },
      token: owner,
    });
    expect(team.status).toBe(404);
    expect(team.body.error.param).toBe('org_id');
  });
});
