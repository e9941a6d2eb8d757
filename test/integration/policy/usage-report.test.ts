/**
 * GET /v1/usage, issue 14 item 6: group_by key|team|org|user|target|tag|hour|day, order_by,
 * limit, since/until instants at hour granularity, CSV, and tags (key tags plus the request tags
 * gateways report). "The top 10 keys by spend in the last 24 h" is one call.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { TEST_INTERNAL_SECRET } from '../../helpers/admin-harness.js';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

const NOW = Date.UTC(2026, 4, 10, 12, 30);
const HOUR = 3_600_000;
let w: KeysWorld;
let keys: { id: string }[];

beforeEach(async () => {
  w = await keysWorld();
  w.admin.clock.set(NOW);
  keys = [];
  for (const [i, tags] of [['prod'], ['prod', 'search'], []].entries()) {
    keys.push((await w.createKey({ name: `k${i}`, team_id: w.teamA1, tags })).body.key);
  }
  const item = (key: number, at: number, spend: number, tags?: string[]) => ({
    key_id: keys[key]!.id,
    target: 'gpt-4o-mini',
    requests: 1,
    input_tokens: 10,
    output_tokens: spend,
    spend_micros: spend * 1000,
    last_used_at: at,
    ...(tags === undefined ? {} : { tags }),
  });
  const res = await w.admin.call('POST', '/internal/usage', {
    token: null,
    headers: { authorization: await new InternalTokens(TEST_INTERNAL_SECRET).authorizationHeader() },
    body: {
      gateway_id: 'gw',
      batch_id: 'b1',
      batch_seq: 1,
      items: [
        item(0, NOW - 30 * HOUR, 900), // older than 24 h
        item(0, NOW - 2 * HOUR, 100),
        item(1, NOW - 1 * HOUR, 300, ['experiment']),
        item(2, NOW - 3 * HOUR, 200),
      ],
    },
  });
  expect(res.status).toBe(200);
});

const usage = (query: string, headers?: Record<string, string>) =>
  w.admin.call('GET', `/v1/usage?${query}`, { headers });

describe('richer usage reports', () => {
  it('the top keys by spend in the last 24 h is one call', async () => {
    const since = new Date(NOW - 24 * HOUR).toISOString();
    const res = await usage(`org_id=${w.orgA}&group_by=key&order_by=spend&limit=2&since=${since}`);
    expect(res.status).toBe(200);
    expect(res.body.data.map((row: { key_id: string; spend: number }) => [row.key_id, row.spend])).toEqual([
      [keys[1]!.id, 0.3],
      [keys[2]!.id, 0.2],
    ]);
    expect(res.body.totals.spend).toBe(0.6);
  });

  it('since is inclusive and until exclusive, at hour granularity', async () => {
    const at = (ms: number) => new Date(ms).toISOString();
    const res = await usage(
      `team_id=${w.teamA1}&since=${at(NOW - 3 * HOUR)}&until=${at(NOW - HOUR)}&group_by=hour`,
    );
    expect(res.body.data.map((row: { hour: string }) => row.hour)).toEqual([
      '2026-05-10T09:00:00.000Z',
      '2026-05-10T10:00:00.000Z',
    ]);
  });

  it('groups by tag (key tags and request tags), user, team and day', async () => {
    const byTag = await usage(`org_id=${w.orgA}&group_by=tag&order_by=requests`);
    expect(
      Object.fromEntries(
        byTag.body.data.map((row: { tag: string; requests: number }) => [row.tag, row.requests]),
      ),
    ).toEqual({
      prod: 3,
      search: 1,
      experiment: 1,
    });
    expect((await usage(`org_id=${w.orgA}&group_by=user`)).body.data).toHaveLength(1);
    expect((await usage(`org_id=${w.orgA}&group_by=team`)).body.data[0]).toMatchObject({
      team_id: w.teamA1,
      requests: 4,
    });
    expect(
      (await usage(`org_id=${w.orgA}&group_by=day`)).body.data.map((row: { day: string }) => row.day),
    ).toEqual(['2026-05-09', '2026-05-10']);
  });

  it('answers CSV for Accept: text/csv', async () => {
    const res = await w.admin.app.request(`/v1/usage?org_id=${w.orgA}&group_by=key&order_by=spend&limit=1`, {
      headers: { authorization: 'Bearer test-master-key-0123456789', accept: 'text/csv' },
    });
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(await res.text()).toBe(
      `key_id,requests,input_tokens,output_tokens,total_tokens,spend\r\n${keys[0]!.id},2,20,1000,1020,1\r\n`,
    );
  });
});
