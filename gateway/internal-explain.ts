/**
 * `GET /internal/explain?token_hash=<sha256 hex>` (issue 14 item 7): this gateway's live counters
 * of one key, for the admin plane's `GET /v1/keys/{id}/explain`: every window and parallel cap
 * of key, team and org (limit, used, reset, mode), each budget's spend and in-flight reservations
 * as this gateway sees them. In memory mode each gateway has its own counters, so the admin asks
 * every gateway; in Redis mode the windows are the shared ones. Internal token required.
 */
import type { Context, Hono } from 'hono';
import type { ErrorCode } from '../src/errors/registry.js';
import type { InternalTokens } from '../src/invalidation/internal-token.js';
import type { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import type { GatewayEnv } from './proxy/proxy-request.js';

export interface LiveCounters {
  windows: { param: string; mode: 'enforce' | 'shadow'; limit: number; used: number; reset_ms: number }[];
  budgets: { scope: 'key' | 'team' | 'org'; spend_micros: number; reserved_micros: number }[];
}

const TOKEN_HASH = /^[0-9a-f]{64}$/;

export function registerInternalExplain(
  app: Hono<GatewayEnv>,
  deps: {
    keys: KeyPolicyCache;
    internalTokens: InternalTokens | undefined;
    liveCounters?: (policy: ResolvedKeyPolicy) => Promise<LiveCounters>;
  },
  refuse: (code: ErrorCode, c: Context<GatewayEnv>) => Response,
): void {
  app.get('/internal/explain', async (c) => {
    if (
      deps.internalTokens === undefined ||
      !(await deps.internalTokens.verify(c.req.header('authorization')))
    )
      return refuse('unauthenticated', c);
    const hash = c.req.query('token_hash') ?? '';
    if (deps.liveCounters === undefined || !TOKEN_HASH.test(hash)) return refuse('not_found', c);
    let policy = deps.keys.lookup(hash);
    if (policy === undefined) {
      const loaded = await deps.keys.resolve(hash);
      if (!loaded.ok) return refuse(loaded.code === 'invalid_api_key' ? 'not_found' : loaded.code, c);
      policy = loaded.policy;
    }
    return c.json(await deps.liveCounters(policy), 200);
  });
}
