/** Bearer master key or user JWT → the request's AccessView; anything else → 401 unauthenticated. */
import type { MiddlewareHandler } from 'hono';
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { AdminDeps, AdminEnv } from '../context.js';
import { AccessView, type UserRow } from './access.js';

export function authenticate(deps: AdminDeps): MiddlewareHandler<AdminEnv> {
  const findUser = deps.db.prepare('SELECT * FROM users WHERE id = ?');
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header === undefined || !header.startsWith('Bearer ')) throw new KeygateError('unauthenticated');
    const token = header.slice(7).trim();
    if (deps.credentials.isMasterKey(token)) {
      c.set('access', AccessView.load(deps.db, { kind: 'master' }));
      return next();
    }
    const userId = await deps.credentials.verifyUserToken(token);
    const user = userId === undefined ? undefined : (findUser.get(userId) as UserRow | undefined);
    if (user === undefined) throw new KeygateError('unauthenticated');
    c.set('access', AccessView.load(deps.db, { kind: 'user', user }));
    return next();
  };
}
