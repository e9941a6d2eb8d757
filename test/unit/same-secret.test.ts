import { describe, expect, it } from 'vitest';
import { sameSecret, secretDigest } from '../../src/same-secret.js';

describe('sameSecret', () => {
  const expected = secretDigest('Bearer metrics-token-0123456789');

  it('accepts the configured secret only', () => {
    expect(sameSecret('Bearer metrics-token-0123456789', expected)).toBe(true);
    expect(sameSecret('Bearer metrics-token-012345678', expected)).toBe(false);
    expect(sameSecret('Bearer metrics-token-0123456789 ', expected)).toBe(false);
    expect(sameSecret('', expected)).toBe(false);
    expect(sameSecret(undefined, expected)).toBe(false);
  });

  it('compares digests of equal length whatever was sent (no length short-cut)', () => {
    expect(expected.length).toBe(32);
    expect(sameSecret('x'.repeat(10_000), expected)).toBe(false);
  });
});
