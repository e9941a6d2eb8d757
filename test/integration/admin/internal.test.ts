/**
 * The internal API for gateways (docs/api.md "Internal API") over HTTP, in-process: refused without the
 * internal token, resolved key policies, the target catalog, the change feed, idempotent usage.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';
import { usageReportToWire } from '../../../src/usage/usage-report.js';
import { TEST_MASTER_KEY, type TestAdmin } from '../../helpers/admin-harness.js';
import { keysWorld, type KeysWorld } from './keys-world.js';

let w: KeysWorld;
/** A call as a gateway (internal token), or with the given Authorization (null: none). */
const call: TestAdmin['callInternal'] = (...request) => w.admin.callInternal(...request);

beforeEach(async () => {
  w = await keysWorld();
});

describe('internal authentication', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', `/internal/keys/${'a'.repeat(64)}`],
    ['GET', '/internal/targets'],
    ['GET', '/internal/changes?after=0'],
    ['POST', '/internal/usage', { gateway_id: 'g', batch_id: 'b', batch_seq: 1, items: [] }],
  ];

  it.each(routes)('%s %s is refused with 401 without a valid internal token', async (method, path, body) => {
    const wrongSecret = await new InternalTokens(
      'another-secret-0123456789-abcdefghij',
    ).authorizationHeader();
    const userToken = `Bearer ${w.tokens.platformAdmin}`;
    for (const header of [null, 'Bearer ', wrongSecret, userToken, `Bearer ${TEST_MASTER_KEY}`]) {
      const res = await call(method, path, body, header);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
    }
    expect((await call(method, path, body)).status).not.toBe(401);
  });

  it('a refused usage report changes nothing', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key;
    await call(
      'POST',
      '/internal/usage',
      { gateway_id: 'g', batch_id: 'b', batch_seq: 1, items: [usageItem(key.id, 1000)] },
      null,
    );
    expect(w.admin.deps.db.prepare('SELECT COUNT(*) AS n FROM usage_batches').get()).toEqual({ n: 0 });
  });
});

function usageItem(keyId: string, spendMicros: number, lastUsedAt = Date.UTC(2026, 4, 17, 12)) {
  return {
    key_id: keyId,
    target: 'gpt-4o-mini',
    requests: 2,
    input_tokens: 100,
    output_tokens: 50,
    spend_micros: spendMicros,
    last_used_at: lastUsedAt,
  };
}

describe('GET /internal/keys/:hash', () => {
  // Issue 14 fields of the contract, at their defaults.
  const NO_NEW_LIMITS = { maxParallel: null, budgetPeriod: null, shadow: 0 };
  const NO_PERIOD_SPEND = { periodSpendMicros: 0, periodStartMs: null };

  it('answers the resolved policy: key, team and org limits and spend in micro-USD, targets, version', async () => {
    w.admin.deps.db
      .prepare('UPDATE teams SET rpm_limit = 500, max_budget_micros = 50000000 WHERE id = ?')
      .run(w.teamA1);
    w.admin.deps.db.prepare('UPDATE orgs SET tpd_limit = 9000000 WHERE id = ?').run(w.orgA);
    const created = await w.createKey({
      name: 'k',
      team_id: w.teamA1,
      max_budget: 1.5,
      rpm_limit: 10,
      tpm_limit: 20,
      rph_limit: 30,
      rpd_limit: 40,
      tpd_limit: 50,
      expires_in_days: 2,
      access: { mode: 'restrict', targets: ['gpt-4o-mini'] },
    });
    const key = created.body.key;
    const res = await call('GET', `/internal/keys/${key.token_hash}?gateway_id=gw-1`);
    expect(res.status).toBe(200);
    const head = (w.admin.deps.db.prepare('SELECT MAX(seq) AS s FROM change_log').get() as { s: number }).s;
    expect(res.body).toEqual({
      keyId: key.id,
      keyName: 'k',
      tokenHash: key.token_hash,
      status: 'active',
      tags: [],
      allowRequestTags: false,
      expiresAt: Date.parse(key.expires_at),
      key: {
        id: key.id,
        limits: { maxBudgetMicros: 1_500_000, rpm: 10, tpm: 20, rph: 30, rpd: 40, tpd: 50, ...NO_NEW_LIMITS },
        spendMicros: 0,
        ...NO_PERIOD_SPEND,
      },
      team: {
        id: w.teamA1,
        limits: {
          maxBudgetMicros: 50_000_000,
          rpm: 500,
          tpm: null,
          rph: null,
          rpd: null,
          tpd: null,
          ...NO_NEW_LIMITS,
        },
        spendMicros: 0,
        ...NO_PERIOD_SPEND,
      },
      org: {
        id: w.orgA,
        limits: {
          maxBudgetMicros: null,
          rpm: null,
          tpm: null,
          rph: null,
          rpd: null,
          tpd: 9_000_000,
          ...NO_NEW_LIMITS,
        },
        spendMicros: 0,
        ...NO_PERIOD_SPEND,
      },
      effectiveTargets: ['gpt-4o-mini'],
      version: head,
      appliedBatchSeq: 0,
    });
  });

  it('an expired key still resolves (200) with its expiresAt: the gateway decides', async () => {
    const expiresAt = w.admin.clock.now() + 1000;
    const key = (
      await w.createKey({ name: 'k', team_id: w.teamA1, expires_at: new Date(expiresAt).toISOString() })
    ).body.key;
    w.admin.clock.advance(5000);
    const res = await call('GET', `/internal/keys/${key.token_hash}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'active', expiresAt });
  });

  it('unknown, malformed and deleted hashes → 404', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key;
    expect((await call('GET', `/internal/keys/${'0'.repeat(64)}`)).status).toBe(404);
    expect((await call('GET', '/internal/keys/not-a-hash')).status).toBe(404);
    expect((await call('GET', `/internal/keys/${key.token_hash.toUpperCase()}`)).status).toBe(404);
    await w.admin.call('DELETE', `/v1/keys/${key.id}`);
    expect((await call('GET', `/internal/keys/${key.token_hash}`)).status).toBe(404);
  });
});

describe('GET /internal/targets', () => {
  it('lists every target in the wire shape with the change-log head and the change there', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key;
    const res = await call('GET', '/internal/targets');
    expect(res.status).toBe(200);
    expect(res.body.seq).toBe(1);
    expect(res.body.last).toMatchObject({ seq: 1, entityType: 'key', entityId: key.id });
    expect(res.body.targets).toEqual([
      {
        name: 'claude-haiku',
        baseUrl: 'http://127.0.0.1:9/v1',
        upstreamModel: 'claude-haiku-upstream',
        apiKeyEnv: 'OPENAI_API_KEY',
        inputMicrosPerMtok: 150_000,
        outputMicrosPerMtok: 600_000,
      },
      expect.objectContaining({ name: 'gpt-4o-mini' }),
    ]);
  });
});

describe('GET /internal/changes', () => {
  it('returns changes after N in seq order, at most L; seq = last returned, or the head when none', async () => {
    const k1 = (await w.createKey({ name: 'k1', team_id: w.teamA1 })).body.key;
    const k2 = (await w.createKey({ name: 'k2', team_id: w.teamA1 })).body.key;
    await w.admin.call('POST', `/v1/keys/${k1.id}/revoke`);
    const all = await call('GET', '/internal/changes?after=0');
    expect(all.status).toBe(200);
    expect(all.body.seq).toBe(3);
    expect(all.body.changes.map((c: any) => [c.seq, c.entityType, c.entityId, c.tokenHashes])).toEqual([
      [1, 'key', k1.id, [k1.token_hash]],
      [2, 'key', k2.id, [k2.token_hash]],
      [3, 'key', k1.id, [k1.token_hash]],
    ]);
    expect(typeof all.body.changes[0].at).toBe('number');
    const page = await call('GET', '/internal/changes?after=1&limit=1');
    expect(page.body).toMatchObject({ seq: 2, changes: [{ seq: 2 }] });
    expect(await call('GET', '/internal/changes?after=3').then((r) => r.body)).toEqual({
      seq: 3,
      changes: [],
      previous: all.body.changes[2],
    });
    expect(await call('GET', '/internal/changes').then((r) => r.body.changes.length)).toBe(3);
  });

  it('previous: the change at `after` (the last one below it past the head), null after 0', async () => {
    const k1 = (await w.createKey({ name: 'k1', team_id: w.teamA1 })).body.key;
    await w.createKey({ name: 'k2', team_id: w.teamA1 });
    const all = (await call('GET', '/internal/changes?after=0')).body;
    expect(all.previous).toBeNull();
    expect((await call('GET', '/internal/changes?after=1')).body).toMatchObject({
      seq: 2,
      previous: {
        seq: 1,
        at: all.changes[0].at,
        entityType: 'key',
        entityId: k1.id,
        tokenHashes: [k1.token_hash],
      },
    });
    // A gateway ahead of the log (restored from a backup): the head's change.
    expect((await call('GET', '/internal/changes?after=50')).body).toEqual({
      seq: 2,
      changes: [],
      previous: all.changes[1],
    });
  });

  it.each(['after=-1', 'after=x', 'limit=0', 'limit=10001', 'limit=1.5'])(
    'bad query %s → 400',
    async (query) => {
      const res = await call('GET', `/internal/changes?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    },
  );
});

describe('POST /internal/usage', () => {
  it('adds spend to key, team and org, fills usage_daily and last_used_at; the same batch twice counts once', async () => {
    const a = (await w.createKey({ name: 'a', team_id: w.teamA1 })).body.key;
    const b = (await w.createKey({ name: 'b', team_id: w.teamA2 })).body.key;
    const report = {
      gateway_id: 'gw-1',
      batch_id: 'batch-1',
      batch_seq: 7,
      items: [usageItem(a.id, 1_250), usageItem(b.id, 40)],
    };
    expect((await call('POST', '/internal/usage', report)).body).toEqual({ applied: true });
    expect((await call('POST', '/internal/usage', report)).body).toEqual({ applied: false });
    const db = w.admin.deps.db;
    const spend = (table: string, id: string) =>
      (
        db
          .prepare(
            `SELECT spend_micros AS s FROM ${table === 'keys' ? 'key_usage u JOIN keys k ON k.num = u.key_num WHERE k.id' : `${table} WHERE id`} = ?`,
          )
          .get(id) as { s: number }
      ).s;
    expect(spend('keys', a.id)).toBe(1_250);
    expect(spend('teams', w.teamA1)).toBe(1_250);
    expect(spend('teams', w.teamA2)).toBe(40);
    expect(spend('orgs', w.orgA)).toBe(1_290);
    expect(db.prepare('SELECT * FROM usage_daily WHERE key_id = ?').all(a.id)).toEqual([
      {
        key_id: a.id,
        team_id: w.teamA1,
        org_id: w.orgA,
        target: 'gpt-4o-mini',
        day: '2026-05-17',
        requests: 2,
        input_tokens: 100,
        output_tokens: 50,
        spend_micros: 1_250,
      },
    ]);
    const view = (await w.admin.call('GET', `/v1/keys/${a.id}`)).body;
    expect(view.spend).toBe(0.00125);
    expect(view.last_used_at).toBe(new Date(Date.UTC(2026, 4, 17, 12)).toISOString());

    const policy = await call('GET', `/internal/keys/${a.token_hash}?gateway_id=gw-1`);
    expect(policy.body).toMatchObject({
      appliedBatchSeq: 7,
      key: { spendMicros: 1_250 },
      team: { spendMicros: 1_250 },
      org: { spendMicros: 1_290 },
    });
    expect((await call('GET', `/internal/keys/${a.token_hash}?gateway_id=gw-2`)).body.appliedBatchSeq).toBe(
      0,
    );
  });

  it('a report serialized by the gateway (usageReportToWire) is accepted and applied field by field', async () => {
    const a = (await w.createKey({ name: 'a', team_id: w.teamA1 })).body.key;
    const at = Date.UTC(2026, 4, 18, 9);
    const wire = usageReportToWire({
      gatewayId: 'gw-9',
      batchId: 'batch-9',
      batchSeq: 3,
      items: [
        {
          keyId: a.id,
          target: 'model-x',
          requests: 4,
          inputTokens: 400,
          outputTokens: 40,
          spendMicros: 777,
          lastUsedAt: at,
        },
      ],
    });
    expect((await call('POST', '/internal/usage', wire)).body).toEqual({ applied: true });
    const db = w.admin.deps.db;
    expect(
      db
        .prepare(
          'SELECT spend_micros, last_used_at FROM key_usage u JOIN keys k ON k.num = u.key_num WHERE k.id = ?',
        )
        .get(a.id),
    ).toEqual({
      spend_micros: 777,
      last_used_at: at,
    });
    expect(
      db
        .prepare(
          'SELECT target, day, requests, input_tokens, output_tokens, spend_micros FROM usage_daily WHERE key_id = ?',
        )
        .all(a.id),
    ).toEqual([
      {
        target: 'model-x',
        day: '2026-05-18',
        requests: 4,
        input_tokens: 400,
        output_tokens: 40,
        spend_micros: 777,
      },
    ]);
    const policy = await call('GET', `/internal/keys/${a.token_hash}?gateway_id=gw-9`);
    expect(policy.body.appliedBatchSeq).toBe(3);
    expect((await call('POST', '/internal/usage', wire)).body).toEqual({ applied: false });
  });

  it('accumulates later batches; last_used_at never moves back; a deleted key still charges its team, an unknown one nothing', async () => {
    const a = (await w.createKey({ name: 'a', team_id: w.teamA1 })).body.key;
    const gone = (await w.createKey({ name: 'gone', team_id: w.teamA1 })).body.key;
    await w.admin.call('DELETE', `/v1/keys/${gone.id}`);
    const late = Date.UTC(2026, 4, 17, 12);
    await call('POST', '/internal/usage', {
      gateway_id: 'gw-1',
      batch_id: 'b1',
      batch_seq: 1,
      items: [usageItem(a.id, 10, late)],
    });
    const res = await call('POST', '/internal/usage', {
      gateway_id: 'gw-1',
      batch_id: 'b2',
      batch_seq: 2,
      items: [usageItem(a.id, 5, late - 60_000), usageItem(gone.id, 1_000_000), usageItem('key_never', 7)],
    });
    expect(res.body).toEqual({ applied: true });
    const row = w.admin.deps.db
      .prepare(
        'SELECT spend_micros, last_used_at FROM key_usage u JOIN keys k ON k.num = u.key_num WHERE k.id = ?',
      )
      .get(a.id);
    expect(row).toEqual({ spend_micros: 15, last_used_at: late });
    // The deleted key's spend stays in its team's (its key row is gone); the unknown key's goes nowhere.
    expect(
      (w.admin.deps.db.prepare('SELECT spend_micros AS s FROM teams WHERE id = ?').get(w.teamA1) as any).s,
    ).toBe(1_000_015);
    expect(
      w.admin.deps.db.prepare("SELECT COUNT(*) AS n FROM usage_daily WHERE key_id = 'key_never'").get(),
    ).toEqual({ n: 0 });
    const daily = w.admin.deps.db
      .prepare('SELECT requests, spend_micros FROM usage_daily WHERE key_id = ?')
      .get(a.id);
    expect(daily).toEqual({ requests: 4, spend_micros: 15 });
    // The same batch id from another gateway is another batch.
    expect(
      (
        await call('POST', '/internal/usage', {
          gateway_id: 'gw-2',
          batch_id: 'b1',
          batch_seq: 1,
          items: [usageItem(a.id, 1)],
        })
      ).body,
    ).toEqual({ applied: true });
  });

  it.each([
    ['not json', '{"gateway_id":', null],
    ['missing batch_id', { gateway_id: 'g', batch_seq: 1, items: [] }, 'batch_id'],
    [
      'negative spend',
      { gateway_id: 'g', batch_id: 'b', batch_seq: 1, items: [{ ...usageItem('k', 1), spend_micros: -5 }] },
      'items.0.spend_micros',
    ],
    [
      'fractional tokens',
      { gateway_id: 'g', batch_id: 'b', batch_seq: 1, items: [{ ...usageItem('k', 1), input_tokens: 1.5 }] },
      'items.0.input_tokens',
    ],
    ['items not an array', { gateway_id: 'g', batch_id: 'b', batch_seq: 1, items: {} }, 'items'],
    ['a camelCase body', { gatewayId: 'g', batchId: 'b', batchSeq: 1, items: [] }, 'gateway_id'],
    [
      'a camelCase item',
      {
        gateway_id: 'g',
        batch_id: 'b',
        batch_seq: 1,
        items: [
          {
            keyId: 'k',
            target: 't',
            requests: 1,
            inputTokens: 1,
            outputTokens: 1,
            spendMicros: 1,
            lastUsedAt: 1,
          },
        ],
      },
      'items.0.key_id',
    ],
  ])(
    'a malformed report (%s) → 400 naming the snake_case field, nothing recorded',
    async (_name, body, param) => {
      const res = await call('POST', '/internal/usage', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.param).toBe(param);
      expect(w.admin.deps.db.prepare('SELECT COUNT(*) AS n FROM usage_batches').get()).toEqual({ n: 0 });
    },
  );
});

describe('/openapi.json', () => {
  it('documents the public keys routes and none of the internal ones', async () => {
    const doc = (await w.admin.call('GET', '/openapi.json', { token: null })).body;
    const paths = Object.keys(doc.paths);
    for (const path of ['/v1/keys', '/v1/keys/{id}', '/v1/keys/{id}/regenerate', '/v1/keys/{id}/revoke']) {
      expect(paths).toContain(path);
    }
    expect(Object.keys(doc.paths['/v1/keys/{id}'])).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
    expect(paths.filter((p) => p.startsWith('/internal'))).toEqual([]);
  });
});
