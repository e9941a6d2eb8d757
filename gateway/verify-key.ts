/**
 * Key verification, steps 2–4 of the hot path (DESIGN.md): extract the key
 * (`Authorization: Bearer` or `x-api-key`), reject malformed ones before hashing (so made-up
 * keys cost microseconds and never reach the cache or the admin plane), sha256, cache lookup
 * (load on a miss), then status and expiry against the injected clock.
 */
import type { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import type { Clock } from '../src/clock.js';
import { hashSecret, isWellFormedSecret } from '../src/keys/secret.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';

export type KeyVerdict =
  | { ok: true; policy: ResolvedKeyPolicy }
  | {
      ok: false;
      code:
        | 'missing_api_key'
        | 'invalid_api_key'
        | 'key_revoked'
        | 'key_blocked'
        | 'key_expired'
        | 'auth_unavailable';
    };

const MISSING: KeyVerdict = { ok: false, code: 'missing_api_key' };
const INVALID: KeyVerdict = { ok: false, code: 'invalid_api_key' };
const REVOKED: KeyVerdict = { ok: false, code: 'key_revoked' };
const EXPIRED: KeyVerdict = { ok: false, code: 'key_expired' };
const BLOCKED: KeyVerdict = { ok: false, code: 'key_blocked' };

/** The presented secret, or undefined when neither header carries one. */
export function extractKey(
  authorization: string | undefined,
  apiKeyHeader: string | undefined,
): string | undefined {
  if (authorization !== undefined && authorization.length > 7) {
    const scheme = authorization.slice(0, 7);
    if (scheme === 'Bearer ' || scheme.toLowerCase() === 'bearer ') return authorization.slice(7).trim();
  }
  if (apiKeyHeader !== undefined && apiKeyHeader !== '') return apiKeyHeader.trim();
  return undefined;
}

export async function verifyKey(
  authorization: string | undefined,
  apiKeyHeader: string | undefined,
  keys: KeyPolicyCache,
  clock: Clock,
): Promise<KeyVerdict> {
  const secret = extractKey(authorization, apiKeyHeader);
  if (secret === undefined || secret === '') return MISSING;
  if (!isWellFormedSecret(secret)) return INVALID;
  const hash = hashSecret(secret);
  let policy = keys.lookup(hash);
  if (policy === undefined) {
    const loaded = await keys.resolve(hash);
    if (!loaded.ok) return loaded.code === 'invalid_api_key' ? INVALID : { ok: false, code: loaded.code };
    policy = loaded.policy;
  }
  if (policy.status !== 'active') return policy.status === 'blocked' ? BLOCKED : REVOKED;
  if (policy.expiresAt !== null && clock.now() >= policy.expiresAt) return EXPIRED;
  return { ok: true, policy };
}
