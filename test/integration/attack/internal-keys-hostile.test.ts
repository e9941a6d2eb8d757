/**
 * The internal key-batch routes (`POST /internal/keys`, `GET /internal/keys?after=&limit=`) against
 * a careless or hostile caller: every malformed query or body is a 400 `invalid_request` naming
 * its parameter, never a 500 and never a silently clamped page.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { keysWorld, type KeysWorld } from '../admin/keys-world.js';

let w: KeysWorld;
beforeEach(async () => {
  w = await keysWorld();
});

describe('internal key batches, hostile input', () => {
  it.each([
    ['limit=0', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=', 'limit'],
    ['limit=99999999999999999999', 'limit'],
    ['after=', 'after'],
    ['after=1:', 'after'],
    ['after=:1', 'after'],
    ['after=Infinity:1', 'after'],
    ['after=1e400:1', 'after'],
    ['after=1:2:3', 'after'],
    ['after=1:-1', 'after'],
    ['after=%201:1', 'after'],
    ['after=0x10:1', 'after'],
    ['after=1e3:1', 'after'],
    ['after=-5:1', 'after'],
    [`after=${'9'.repeat(301)}:1`, 'after'],
  ])('GET /internal/keys?%s → 400 invalid_request on %s', async (query, param) => {
    const res = await w.admin.callInternal('GET', `/internal/keys?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', param });
  });

  it('POST /internal/keys: a non-list, a non-string or a 129-character hash → 400 on it; odd and repeated hashes → null or the same policy in place', async () => {
    const key = (await w.createKey({ name: 'k', team_id: w.teamA1 })).body.key;
    for (const [hashes, param] of [
      ['abc', 'hashes'],
      [null, 'hashes'],
      [[key.token_hash, 1], 'hashes.1'],
      [['', 'a'.repeat(129)], 'hashes.1'],
    ] as const) {
      const res = await w.admin.callInternal('POST', '/internal/keys', { hashes });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_request', param });
    }
    const odd = ['', '\u0000', key.token_hash.toUpperCase(), ` ${key.token_hash}`, "' OR 1=1 --"];
    const hashes = [...odd, ...Array.from({ length: 995 }, () => key.token_hash)];
    const res = await w.admin.callInternal('POST', '/internal/keys', { hashes });
    expect(res.status).toBe(200);
    expect(res.body.policies.slice(0, 5)).toEqual([null, null, null, null, null]);
    expect(new Set(res.body.policies.slice(5).map((p: { keyId: string }) => p.keyId))).toEqual(
      new Set([key.id]),
    );
  });
});
