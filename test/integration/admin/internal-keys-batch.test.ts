/**
 * The batch routes of the internal API (issue 15): `POST /internal/keys` (a gateway's concurrent
 * misses as one call) and `GET /internal/keys` (pages of the keys used most recently, for the
 * warm start), in-process over HTTP with the internal token.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { TestAdmin } from '../../helpers/admin-harness.js';
import { keysWorld, type KeysWorld } from './keys-world.js';

let w: KeysWorld;
/** A call as a gateway (internal token), or with the given Authorization (null: none). */
const call: TestAdmin['callInternal'] = (...request) => w.admin.callInternal(...request);

async function createKeys(n: number): Promise<{ id: string; token_hash: string }[]> {
  const keys = [];
  for (let i = 0; i < n; i++) keys.push((await w.createKey({ name: `k${i}`, team_id: w.teamA1 })).body.key);
  return keys;
}

beforeEach(async () => {
  w = await keysWorld();
});

describe('POST /internal/keys', () => {
  it('answers one policy per hash in order, null for unknown ones, the same as the single route', async () => {
    const [a, b] = await createKeys(2);
    const unknown = 'f'.repeat(64);
    const res = await call('POST', '/internal/keys?gateway_id=gw-1', {
      hashes: [b!.token_hash, unknown, a!.token_hash, 'not-a-hash'],
    });
    expect(res.status).toBe(200);
    const single = await call('GET', `/internal/keys/${a!.token_hash}?gateway_id=gw-1`);
    expect(res.body.policies).toHaveLength(4);
    expect(res.body.policies[0].keyId).toBe(b!.id);
    expect(res.body.policies[1]).toBeNull();
    expect(res.body.policies[2]).toEqual(single.body);
    expect(res.body.policies[3]).toBeNull();
  });

  it('keys that restrict their targets and keys that inherit them, in one batch: each as the single route answers it', async () => {
    const [a, b] = await createKeys(2);
    const narrow = (
      await w.createKey({
        name: 'narrow',
        team_id: w.teamA1,
        access: { mode: 'restrict', targets: ['gpt-4o-mini'] },
      })
    ).body.key as { token_hash: string };
    const hashes = [a!.token_hash, narrow.token_hash, b!.token_hash];
    const res = await call('POST', '/internal/keys?gateway_id=gw-1', { hashes });
    for (const [i, hash] of hashes.entries()) {
      expect(res.body.policies[i]).toEqual(
        (await call('GET', `/internal/keys/${hash}?gateway_id=gw-1`)).body,
      );
    }
    expect(res.body.policies[1].effectiveTargets).toEqual(['gpt-4o-mini']);
    expect(res.body.policies[0].effectiveTargets.length).toBeGreaterThan(1);
  });

  it("a team's access changed, or a target added, between two batches: the next batch answers the new targets (kept only while the change-log head stays)", async () => {
    const [a] = await createKeys(1);
    const batch = async () =>
      (await call('POST', '/internal/keys?gateway_id=gw-1', { hashes: [a!.token_hash] })).body.policies[0];
    const before = (await batch()).effectiveTargets as string[];
    expect(before.length).toBeGreaterThan(1);
    const restricted = await w.admin.call('PATCH', `/v1/teams/${w.teamA1}`, {
      body: { access: { mode: 'restrict', targets: [before[0]] } },
    });
    expect(restricted.status).toBe(200);
    expect((await batch()).effectiveTargets).toEqual([before[0]]);
    expect(
      (await w.admin.call('PATCH', `/v1/teams/${w.teamA1}`, { body: { access: { mode: 'inherit' } } }))
        .status,
    ).toBe(200);
    const added = await w.admin.call('POST', '/v1/targets', {
      body: { name: 'zz-added-later', upstream: { base_url: 'http://127.0.0.1:9/v1' } },
    });
    expect(added.status).toBe(201);
    const after = await batch();
    expect(after).toEqual((await call('GET', `/internal/keys/${a!.token_hash}?gateway_id=gw-1`)).body);
    expect(after.effectiveTargets).toEqual([...before, 'zz-added-later'].sort());
  });

  it('overrides (two on one key), an old hash in its grace, a revoked key, keys of two teams and repeats: each as the single route answers it', async () => {
    const [a, b, c] = await createKeys(3);
    const other = (await w.createKey({ name: 'other-team', team_id: w.teamA2, rpm_limit: 7 })).body.key as {
      id: string;
      token_hash: string;
    };
    const expires = (ms: number) => new Date(w.admin.clock.now() + ms).toISOString();
    for (const body of [
      { rpm_limit: 100, expires_at: expires(3_600_000) },
      { tpm_limit: 5_000, expires_at: expires(7_200_000) },
    ])
      expect((await w.admin.call('POST', `/v1/keys/${a!.id}/overrides`, { body })).status).toBe(201);
    const regenerated = await w.admin.call('POST', `/v1/keys/${b!.id}/regenerate`, {
      body: { grace_period_seconds: 600 },
    });
    expect(regenerated.status).toBe(200);
    expect((await w.admin.call('POST', `/v1/keys/${c!.id}/revoke`)).status).toBe(200);
    const newHash = (await w.admin.call('GET', `/v1/keys/${b!.id}`)).body.token_hash as string;
    const hashes = [
      a!.token_hash,
      b!.token_hash, // the old hash, in its grace period
      newHash,
      c!.token_hash,
      other.token_hash,
      'e'.repeat(64),
      a!.token_hash,
    ];
    const res = await call('POST', '/internal/keys?gateway_id=gw-1', { hashes });
    expect(res.status).toBe(200);
    expect(res.body.policies[0].overrides).toHaveLength(2);
    expect(res.body.policies[1].expiresAt).not.toBeNull();
    for (const [i, hash] of hashes.entries()) {
      const single = await call('GET', `/internal/keys/${hash}?gateway_id=gw-1`);
      expect(res.body.policies[i]).toEqual(single.status === 404 ? null : single.body);
    }
  });

  it('refuses without the internal token, an empty list and more than 1,000 hashes', async () => {
    expect((await call('POST', '/internal/keys', { hashes: ['a'.repeat(64)] }, null)).status).toBe(401);
    expect((await call('POST', '/internal/keys', { hashes: [] })).status).toBe(400);
    const many = Array.from({ length: 1001 }, () => 'a'.repeat(64));
    expect((await call('POST', '/internal/keys', { hashes: many })).status).toBe(400);
  });
});

/** Sets the key's last use (its key_usage row, migration 7) as a usage batch would. */
function usedAt(keyId: string, at: number): void {
  w.admin.deps.db
    .prepare(
      `INSERT INTO key_usage (key_num, last_used_at) VALUES ((SELECT num FROM keys WHERE id = ?), ?)
       ON CONFLICT (key_num) DO UPDATE SET last_used_at = excluded.last_used_at`,
    )
    .run(keyId, at);
}

describe('GET /internal/keys (most recently used first)', () => {
  it('pages the active used keys by last_used_at descending; never-used and revoked keys stay out', async () => {
    const keys = await createKeys(7);
    const db = w.admin.deps.db;
    // keys[0..4] used at t+0..4 (keys[4] most recent); keys[5] never used; keys[6] used but revoked.
    for (let i = 0; i < 5; i++) usedAt(keys[i]!.id, 1000 + i);
    usedAt(keys[6]!.id, 5000);
    db.prepare("UPDATE keys SET status = 'revoked' WHERE id = ?").run(keys[6]!.id);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const cursor: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
      const res = await call('GET', `/internal/keys?gateway_id=gw-1&limit=2${cursor}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.policies as { keyId: string }[]).map((p) => p.keyId));
      after = res.body.next as string | null;
      pages++;
    } while (after !== null && pages < 10);
    expect(seen).toEqual([4, 3, 2, 1, 0].map((i) => keys[i]!.id));
    expect(pages).toBe(3);
  });

  it('keys used at the same millisecond are paged without loss or repetition (cursor = time and id)', async () => {
    const keys = await createKeys(5);
    for (const key of keys) usedAt(key.id, 42);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const cursor: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
      const res = await call('GET', `/internal/keys?limit=2${cursor}`);
      seen.push(...(res.body.policies as { keyId: string }[]).map((p) => p.keyId));
      after = res.body.next as string | null;
      if (after === null) break;
    }
    expect([...seen].sort()).toEqual(keys.map((key) => key.id).sort());
  });

  it('a page (read with one statement) holds each key as the single route answers it: overrides, a regenerated key, two teams, restricted targets', async () => {
    const [a, b] = await createKeys(2);
    const other = (await w.createKey({ name: 'other-team', team_id: w.teamA2, rpm_limit: 7 })).body.key as {
      id: string;
    };
    const narrow = (
      await w.createKey({
        name: 'narrow',
        team_id: w.teamA1,
        access: { mode: 'restrict', targets: ['gpt-4o-mini'] },
      })
    ).body.key as { id: string };
    const expires = (ms: number) => new Date(w.admin.clock.now() + ms).toISOString();
    for (const body of [
      { rpm_limit: 100, expires_at: expires(3_600_000) },
      { tpm_limit: 5_000, expires_at: expires(7_200_000) },
    ])
      expect((await w.admin.call('POST', `/v1/keys/${a!.id}/overrides`, { body })).status).toBe(201);
    expect(
      (await w.admin.call('POST', `/v1/keys/${b!.id}/regenerate`, { body: { grace_period_seconds: 600 } }))
        .status,
    ).toBe(200);
    const ids = [a!.id, b!.id, other.id, narrow.id];
    for (const [i, id] of ids.entries()) usedAt(id, 1000 + i);
    const res = await call('GET', '/internal/keys?gateway_id=gw-1&limit=10');
    expect(res.status).toBe(200);
    const policies = res.body.policies as { keyId: string; tokenHash: string; overrides?: unknown[] }[];
    expect(policies.map((p) => p.keyId)).toEqual([...ids].reverse());
    expect(policies[3]!.overrides).toHaveLength(2);
    for (const policy of policies) {
      const single = await call('GET', `/internal/keys/${policy.tokenHash}?gateway_id=gw-1`);
      expect(policy).toEqual(single.body);
    }
  });

  it('refuses a malformed cursor and a limit over 1,000', async () => {
    expect((await call('GET', '/internal/keys?after=nope')).status).toBe(400);
    expect((await call('GET', '/internal/keys?limit=1001')).status).toBe(400);
  });
});
