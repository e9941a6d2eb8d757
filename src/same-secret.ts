/**
 * Constant-time comparison of a credential someone sent with the one configured (the metrics
 * tokens of both planes). Both sides are hashed first, so neither the bytes nor the length of the
 * configured secret show in the time a refusal takes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The digest to keep for a configured secret (computed once, at start). */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Whether `sent` is the secret whose digest is `expected`; false when nothing was sent. */
export function sameSecret(sent: string | undefined, expected: Buffer): boolean {
  if (sent === undefined) return false;
  return timingSafeEqual(createHash('sha256').update(sent).digest(), expected);
}
