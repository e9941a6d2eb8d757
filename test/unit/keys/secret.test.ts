import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../src/keys/crc32.js';
import {
  KEY_LENGTH,
  displaySecret,
  generateSecret,
  hashSecret,
  isWellFormedSecret,
} from '../../../src/keys/secret.js';

describe('key secrets', () => {
  it('crc32 matches the IEEE reference value', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('generated secrets have the documented format and pass the checksum', () => {
    for (let i = 0; i < 200; i++) {
      const secret = generateSecret();
      expect(secret).toMatch(/^kg_[0-9A-Za-z]{46}$/);
      expect(secret.length).toBe(KEY_LENGTH);
      expect(isWellFormedSecret(secret)).toBe(true);
    }
  });

  it('any single-character change of a secret is rejected by the checksum or the alphabet', () => {
    const secret = generateSecret();
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_';
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: KEY_LENGTH - 1 }),
        fc.constantFrom(...alphabet),
        (index, char) => {
          fc.pre(secret[index] !== char);
          const mutated = secret.slice(0, index) + char + secret.slice(index + 1);
          expect(isWellFormedSecret(mutated)).toBe(false);
        },
      ),
    );
  });

  it('rejects wrong prefix, length and alphabet before any hashing', () => {
    const secret = generateSecret();
    expect(isWellFormedSecret(`sk_${secret.slice(3)}`)).toBe(false);
    expect(isWellFormedSecret(secret.slice(0, -1))).toBe(false);
    expect(isWellFormedSecret(`${secret}a`)).toBe(false);
    expect(isWellFormedSecret(`${secret.slice(0, 10)}é${secret.slice(11)}`)).toBe(false);
    expect(isWellFormedSecret('')).toBe(false);
  });

  it('stores a lowercase hex sha256 and displays only prefix and first/last four', () => {
    const secret = generateSecret();
    expect(hashSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashSecret(secret)).toBe(hashSecret(secret));
    const display = displaySecret(secret);
    expect(display).toBe(`kg_${secret.slice(3, 7)}…${secret.slice(-4)}`);
    expect(display).not.toContain(secret.slice(7, -4));
  });

  it('random well-formed-looking strings almost never pass the checksum', () => {
    let passed = 0;
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    for (let i = 0; i < 10_000; i++) {
      let token = 'kg_';
      for (let j = 0; j < 46; j++) token += alphabet[Math.floor(Math.random() * 62)];
      if (isWellFormedSecret(token)) passed++;
    }
    expect(passed).toBe(0);
  });
});
