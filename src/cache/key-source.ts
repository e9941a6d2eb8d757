import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';

/**
 * Where the gateway loads a resolved key policy from on a cache miss (the admin plane's
 * `GET /internal/keys/:hash`, see gateway/admin-client.ts). `null` = the hash is unknown
 * (404); an infrastructure failure throws.
 */
export interface KeySource {
  load(tokenHash: string): Promise<ResolvedKeyPolicy | null>;
}
