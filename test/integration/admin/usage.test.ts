/**
 * GET /v1/usage: totals and day/target breakdowns of what gateways reported through
 * POST /internal/usage (the real ingestion path), per key, team or org, over a UTC day range,
 * visible only within the caller's scope.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from './identity-world.js';

const DAY1 = Date.UTC(2026, 2, 1, 12);
const DAY2 = Date.UTC(2026, 2, 2, 23, 59);
const DAY3 = Date.UTC(2026, 2, 3, 0, 1);

describe('GET /v1/usage', () => {
  let w: World;

  beforeAll(async () => {
    w = await createWorld();
    const item = (keyId: string, target: string, at: number, requests: number, spendMicros: number) => ({
      key_id: keyId,
      target,
      requests,
      input_tokens: requests * 100,
      output_tokens: requests * 10,
      spend_micros: spendMicros,
      last_used_at: at,
    });
    const report = {
      gateway_id: 'gw-test',
      batch_id: 'batch-1',
      batch_seq: 1,
      items: [
        item(w.ownKeys.team_developer, 'model-a', DAY1, 2, 1_000_000),
        item(w.ownKeys.team_developer, 'model-b', DAY2, 3, 500_000),
        item(w.keys.teammate, 'model-a', DAY3, 5, 250_000),
        item(w.keys.a2, 'model-a', DAY2, 7, 2_000_000),
        item(w.keys.b1, 'model-a', DAY1, 11, 4_000_000),
      ],
    };
    const response = await w.admin.app.request('/internal/usage', {
      method: 'POST',
      headers: {
        authorization: await w.admin.deps.internalTokens.authorizationHeader(),
        'content-type': 'application/json',
      },
      body: JSON.stringify(report),
    });
    expect(response.status).toBe(200);
  });

  const usage = async (query: string, token?: string) => w.admin.call('GET', `/v1/usage?${query}`, { token });

  it('totals a key: requests, tokens and spend in USD', async () => {
    const response = await usage(`key_id=${w.ownKeys.team_developer}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      scope: { type: 'key', id: w.ownKeys.team_developer },
      group_by: null,
      totals: { requests: 5, input_tokens: 500, output_tokens: 50, total_tokens: 550, spend: 1.5 },
      data: [],
    });
  });

  it('groups a team by day and by target', async () => {
    const byDay = await usage(`team_id=${w.teams.A1}&group_by=day`);
    expect(byDay.body.data).toEqual([
      { day: '2026-03-01', requests: 2, input_tokens: 200, output_tokens: 20, total_tokens: 220, spend: 1 },
      { day: '2026-03-02', requests: 3, input_tokens: 300, output_tokens: 30, total_tokens: 330, spend: 0.5 },
      {
        day: '2026-03-03',
        requests: 5,
        input_tokens: 500,
        output_tokens: 50,
        total_tokens: 550,
        spend: 0.25,
      },
    ]);
    const byTarget = await usage(`team_id=${w.teams.A1}&group_by=target`);
    expect(byTarget.body.data.map((r: any) => [r.target, r.requests])).toEqual([
      ['model-a', 7],
      ['model-b', 3],
    ]);
    expect(byTarget.body.totals.requests).toBe(10);
  });

  it('an org covers all its teams and nothing of another org', async () => {
    expect((await usage(`org_id=${w.orgs.A}`)).body.totals.requests).toBe(17);
    expect((await usage(`org_id=${w.orgs.B}`)).body.totals.requests).toBe(11);
    expect((await usage('')).body.totals.requests).toBe(28);
  });

  it('from/to are inclusive UTC days; a full ISO time counts as its UTC day', async () => {
    expect((await usage(`org_id=${w.orgs.A}&from=2026-03-02&to=2026-03-02`)).body.totals.requests).toBe(10);
    expect((await usage(`org_id=${w.orgs.A}&from=2026-03-02T23:00:00-05:00`)).body.totals.requests).toBe(5);
    expect((await usage(`org_id=${w.orgs.A}&to=2026-03-01`)).body.totals.requests).toBe(2);
    expect((await usage(`org_id=${w.orgs.A}&from=2027-01-01`)).body.totals).toEqual({
      requests: 0,
      input_tokens: 0,
      output_tokens: 0,
      total_tokens: 0,
      spend: 0,
    });
  });

  it.each([
    ['from=2026-02-30', 'from'],
    ['to=yesterday', 'to'],
    ['from=2026-03-05&to=2026-03-01', 'from'],
    ['group_by=week', 'group_by'],
    ['key_id=k&team_id=t', 'team_id'],
  ])('bad query %s → 400 naming %s', async (query, param) => {
    const response = await usage(`org_id=${w.orgs.A}&${query}`);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ code: 'invalid_request', param });
  });

  it('a developer reads its own key’s usage, but not a teammate’s key (404) nor its team (403)', async () => {
    const token = w.tokens.team_developer;
    expect((await usage(`key_id=${w.ownKeys.team_developer}`, token)).body.totals.requests).toBe(5);
    expect((await usage(`key_id=${w.keys.teammate}`, token)).status).toBe(404);
    expect((await usage(`team_id=${w.teams.A1}`, token)).status).toBe(403);
    expect((await usage('', token)).status).toBe(400);
  });

  it('a team admin reads its team, not a sibling team (404) nor the org (403)', async () => {
    const token = w.tokens.team_admin;
    expect((await usage(`team_id=${w.teams.A1}`, token)).body.totals.requests).toBe(10);
    expect((await usage(`team_id=${w.teams.A2}`, token)).status).toBe(404);
    expect((await usage(`org_id=${w.orgs.A}`, token)).status).toBe(403);
  });

  it('another org cannot tell org A’s objects exist (404 on key, team and org)', async () => {
    const token = w.tokens.other_org;
    for (const query of [`key_id=${w.keys.a2}`, `team_id=${w.teams.A2}`, `org_id=${w.orgs.A}`]) {
      const response = await usage(query, token);
      expect(response.status, query).toBe(404);
    }
    expect((await usage(`org_id=${w.orgs.B}`, token)).body.totals.spend).toBe(4);
  });
});
