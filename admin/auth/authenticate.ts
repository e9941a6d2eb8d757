/**
 * Bearer master key or user JWT → the request's AccessView. Without an Authorization header, a
 * console session cookie is accepted too (admin/auth/sessions.ts); then every state-changing
 * request must carry the session's CSRF token in `x-csrf-token` (403 csrf_token_invalid), which a
 * cross-site form post cannot send. Anything else → 401 unauthenticated.
 * Failed attempts count against the client address (src/ratelimit/auth-failure-throttle.ts): a
 * blocked address gets 429 too_many_auth_failures before any hashing or database read.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { retryAfterSeconds, type AuthFailureThrottle } from '../../src/ratelimit/auth-failure-throttle.js';
import { findRow } from '../../src/storage/rows.js';
import type { AdminDeps, AdminEnv } from '../context.js';
import { AccessView, type UserRow } from './access.js';
import { clientAddress } from './client-address.js';
import { SAFE_METHODS, SESSION_COOKIE, SessionStore, sameSecret } from './sessions.js';

function tooManyFailures(c: Context<AdminEnv>, blockedMs: number): KeygateError {
  c.header('retry-after', retryAfterSeconds(blockedMs));
  return new KeygateError('too_many_auth_failures');
}

export function authenticate(deps: AdminDeps, throttle: AuthFailureThrottle): MiddlewareHandler<AdminEnv> {
  const sessions = new SessionStore(
    deps.db,
    deps.clock,
    deps.config.sessionTtlMs,
    deps.credentials.masterFingerprint(),
  );
  return async (c, next) => {
    const address = clientAddress(c);
    const blockedMs = await throttle.blockedMs(address);
    if (blockedMs > 0) throw tooManyFailures(c, blockedMs);
    const header = c.req.header('authorization');
    if (header === undefined) {
      const session = sessions.load(c);
      if (session === undefined) {
        // A cookie that opens no session is a failed authentication, like a wrong Bearer token.
        if (getCookie(c, SESSION_COOKIE) === undefined) throw new KeygateError('unauthenticated');
        const blocked = await throttle.recordFailure(address);
        throw blocked > 0 ? tooManyFailures(c, blocked) : new KeygateError('unauthenticated');
      }
      if (!SAFE_METHODS.has(c.req.method) && !sameSecret(c.req.header('x-csrf-token'), session.csrf)) {
        throw new KeygateError('csrf_token_invalid');
      }
      c.set('access', AccessView.load(deps.db, session.caller));
      return next();
    }
    if (!header.startsWith('Bearer ')) throw new KeygateError('unauthenticated');
    const token = header.slice(7).trim();
    if (deps.credentials.isMasterKey(token)) {
      c.set('access', AccessView.load(deps.db, { kind: 'master' }));
      return next();
    }
    const userId = await deps.credentials.verifyUserToken(token, deps.clock.now());
    const user = userId === undefined ? undefined : findRow<UserRow>(deps.db, 'users', userId);
    if (user === undefined) {
      const blocked = await throttle.recordFailure(address);
      throw blocked > 0 ? tooManyFailures(c, blocked) : new KeygateError('unauthenticated');
    }
    c.set('access', AccessView.load(deps.db, { kind: 'user', user }));
    return next();
  };
}
