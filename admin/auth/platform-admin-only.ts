/**
 * Route middleware for routes only platform admins may call: refuses everyone else with 403
 * before the route's validator reads the body (issue 10 item 8: authorization before parsing).
 * Use as `createRoute({ ..., middleware: [platformAdminOnly] })`.
 */
import type { MiddlewareHandler } from 'hono';
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { AdminEnv } from '../context.js';

export const platformAdminOnly: MiddlewareHandler<AdminEnv> = async (c, next) => {
  if (!c.get('access').isPlatformAdmin) throw new KeygateError('forbidden');
  await next();
};
