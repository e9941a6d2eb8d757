/**
 * Key secrets (DESIGN.md "Key format"): `kg_` + 40 base62 characters of randomness (238 bits)
 * + 6 base62 characters of CRC32 over the random part. The checksum lets the gateway reject
 * made-up keys before hashing or touching its cache. Only the sha256 is ever stored.
 */
import { hash, randomBytes } from 'node:crypto';
import { crc32 } from './crc32.js';

export const KEY_PREFIX = 'kg_';
const RANDOM_LENGTH = 40;
const CHECKSUM_LENGTH = 6;
export const KEY_LENGTH = KEY_PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const BASE62_VALUE = (() => {
  const values = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) values[ALPHABET.charCodeAt(i)] = i;
  return values;
})();

function base62Fixed(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[rest % 62]! + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export function generateSecret(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return KEY_PREFIX + random + base62Fixed(crc32(random), CHECKSUM_LENGTH);
}

/** Prefix, length, alphabet and checksum: no hashing, no allocation beyond the slice. */
export function isWellFormedSecret(token: string): boolean {
  if (token.length !== KEY_LENGTH || !token.startsWith(KEY_PREFIX)) return false;
  let checksum = 0;
  for (let i = KEY_PREFIX.length; i < KEY_LENGTH; i++) {
    const code = token.charCodeAt(i);
    const value = code < 128 ? BASE62_VALUE[code]! : -1;
    if (value < 0) return false;
    if (i >= KEY_PREFIX.length + RANDOM_LENGTH) checksum = checksum * 62 + value;
  }
  return crc32(token.slice(KEY_PREFIX.length, KEY_PREFIX.length + RANDOM_LENGTH)) === checksum;
}

/**
 * Lowercase hex sha256 of the whole secret: the only form that is stored or compared.
 * `crypto.hash` (one-shot, Node ≥ 20.12): about a third of createHash().update().digest()'s cost,
 * paid on every request (issue 15).
 */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** `kg_AbCd…wXyZ`: prefix + first and last four characters of the rest. */
export function displaySecret(secret: string): string {
  const body = secret.slice(KEY_PREFIX.length);
  return `${KEY_PREFIX}${body.slice(0, 4)}…${body.slice(-4)}`;
}
