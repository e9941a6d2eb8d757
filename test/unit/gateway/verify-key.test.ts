import { describe, expect, it } from 'vitest';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { ManualClock } from '../../../src/clock.js';
import { generateSecret, hashSecret } from '../../../src/keys/secret.js';
import { extractKey, verifyKey } from '../../../gateway/verify-key.js';
import { CostOnlyAdmission } from '../../../gateway/cost-only-admission.js';
import { costMicros } from '../../../src/budget/cost.js';
import { FakeKeySource, policyFor, targetRoute } from '../../helpers/gateway-fixtures.js';

describe('extractKey', () => {
  it('reads Authorization: Bearer (any case) or x-api-key', () => {
    expect(extractKey('Bearer kg_x', undefined)).toBe('kg_x');
    expect(extractKey('bearer kg_x', undefined)).toBe('kg_x');
    expect(extractKey(undefined, 'kg_y')).toBe('kg_y');
    expect(extractKey('Basic abc', undefined)).toBeUndefined();
    expect(extractKey(undefined, undefined)).toBeUndefined();
  });
});

describe('verifyKey', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const source = new FakeKeySource();
  const keys = new KeyPolicyCache({ source, clock, maxKeys: 10, ttlMs: 60_000, negativeTtlMs: 10_000 });

  it('refuses malformed keys before any lookup', async () => {
    const before = source.loads;
    expect(await verifyKey('Bearer kg_short', undefined, keys, clock)).toEqual({
      ok: false,
      code: 'invalid_api_key',
    });
    const secret = generateSecret();
    const broken = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    expect(await verifyKey(`Bearer ${broken}`, undefined, keys, clock)).toEqual({
      ok: false,
      code: 'invalid_api_key',
    });
    expect(source.loads).toBe(before);
  });

  it('refuses revoked and expired keys, with expiry judged by the injected clock', async () => {
    const revoked = generateSecret();
    source.policies.set(hashSecret(revoked), policyFor(hashSecret(revoked), { status: 'revoked' }));
    expect(await verifyKey(`Bearer ${revoked}`, undefined, keys, clock)).toEqual({
      ok: false,
      code: 'key_revoked',
    });
    const expiring = generateSecret();
    source.policies.set(
      hashSecret(expiring),
      policyFor(hashSecret(expiring), { expiresAt: clock.now() + 1000 }),
    );
    expect((await verifyKey(undefined, expiring, keys, clock)).ok).toBe(true);
    clock.advance(1000);
    expect(await verifyKey(undefined, expiring, keys, clock)).toEqual({ ok: false, code: 'key_expired' });
  });
});

describe('CostOnlyAdmission', () => {
  it('prices usage with the target pricing in integer micro-USD and charges the input estimate on abort', async () => {
    const target = targetRoute('m', 'http://x/v1', {
      inputMicrosPerMtok: 150_000,
      outputMicrosPerMtok: 600_000,
    });
    expect(costMicros(target, 1000, 500)).toBe(450);
    const admission = new CostOnlyAdmission();
    const outcome = await admission.admit({
      policy: policyFor('a'.repeat(64)),
      target,
      estimatedInputTokens: 2000,
      maxOutputTokens: 10,
    });
    if (!outcome.ok) throw new Error('refused');
    expect(await admission.settle(outcome.ticket, { inputTokens: 1000, outputTokens: 500 })).toEqual({
      costMicros: 450,
    });
    expect(await admission.abort(outcome.ticket)).toEqual({ costMicros: 300 });
  });
});
