/**
 * `GET /v1/keys/{id}/explain?model=<name>` (issue 14 item 7): why a key is (or would be) refused
 * for a model right now, check by check, with the gateways' live counters
 * (admin/keys/key-explain.ts). Visible to whoever can see the key.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { resolveKeyPolicy } from '../internal/resolve-key-policy.js';
import { explainKey } from '../keys/key-explain.js';
import { visibleKey } from '../keys/key-record.js';
import { idParam, ok, security } from '../schemas.js';

export function registerKeyExplainRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/keys/{id}/explain',
      security,
      request: { params: idParam, query: z.object({ model: z.string().min(1).max(200) }) },
      responses: { 200: ok('{verdict, refused_by, checks: [...], gateways}: every hot-path check in order') },
    }),
    async (c) => {
      const key = visibleKey(deps.db, c.get('access'), c.req.valid('param').id);
      const now = deps.clock.now();
      const policy = resolveKeyPolicy(deps.db, key.token_hash, undefined, now);
      if (policy === null) throw new KeygateError('not_found');
      const answers = (await deps.gatewayCounters?.counters(key.token_hash)) ?? [];
      return c.json(explainKey(deps.db, policy, c.req.valid('query').model, answers, now), 200);
    },
  );
}
