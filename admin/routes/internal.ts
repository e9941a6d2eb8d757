/**
 * The internal API for gateways (API.md "Internal API"; wire contract in
 * src/policy/resolved-policy.ts and src/invalidation/change.ts). Every route requires an
 * internal token signed with KEYGATE_INTERNAL_SECRET; it is never reachable with user credentials.
 */
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';

export function registerInternalRoutes(app: AdminApp, deps: AdminDeps): void {
  app.use('/internal/*', async (_c, next) => {
    if (!(await deps.internalTokens.verify(_c.req.header('authorization'))))
      throw new KeygateError('unauthenticated');
    return next();
  });
}
