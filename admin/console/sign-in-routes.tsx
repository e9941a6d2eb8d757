/**
 * Sign-in for people: `GET|POST /sign-in` (email + password, or the master key), `POST /sign-out`,
 * `GET|POST /set-password/:token` (the one-time link an admin made). Forms carry a CSRF token:
 * before sign-in a double-submit value (HttpOnly SameSite=Strict cookie `kg_pre` + hidden field),
 * after it the session's token. Failed sign-ins are throttled per account and per address.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie } from 'hono/cookie';
import { consumePasswordLink, peekPasswordLink } from '../auth/password-links.js';
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from '../auth/passwords.js';
import { randomToken, sameSecret, setStrictCookie } from '../auth/sessions.js';
import type { AdminApp } from '../app.js';
import type { AdminEnv } from '../context.js';
import type { ConsoleContext } from './console-context.js';
import { setPageHeaders } from './layout.js';
import { SetPasswordPage, SignInPage, SimpleMessage } from './sign-in-pages.js';
import { findUserCredentials } from '../../src/storage/user-repository.js';

const PRE_COOKIE = 'kg_pre';

function preToken(c: Context): string {
  const token = randomToken();
  setStrictCookie(c, PRE_COOKIE, token, 3600);
  return token;
}

function address(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The form's string fields; an unreadable form (e.g. multipart without a boundary) has none. */
async function form(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody().catch(() => ({}));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) if (typeof value === 'string') out[name] = value;
  return out;
}

export function registerSignInRoutes(app: AdminApp, ctx: ConsoleContext): void {
  const { db } = ctx.deps;
  // These forms need no sign-in: the admin body limit (413 request_too_large) before any parsing.
  const limit = bodyLimit({ maxSize: ctx.deps.config.adminMaxBodyBytes });
  for (const path of ['/sign-in', '/sign-out', '/set-password/:token']) app.post(path, limit);

  const signInPage = (
    c: Context<AdminEnv>,
    status: 200 | 401 | 403 | 429,
    error?: string,
    notice?: string,
  ) => {
    setPageHeaders(c);
    return c.html(<SignInPage csrf={preToken(c)} error={error} notice={notice} />, status);
  };

  app.get('/sign-in', (c) => {
    if (ctx.sessions.load(c) !== undefined) return c.redirect('/keys', 303);
    return signInPage(
      c,
      200,
      undefined,
      c.req.query('password') === 'set' ? 'Password set. Sign in.' : undefined,
    );
  });

  app.post('/sign-in', async (c) => {
    const fields = await form(c);
    if (!sameSecret(fields.csrf, getCookie(c, PRE_COOKIE))) {
      return signInPage(c, 403, 'The form expired or did not come from this console. Try again.');
    }
    const master = fields.method === 'master';
    const account = master ? 'master key' : (fields.email ?? '').trim();
    const from = address(c);
    const waitMs = await ctx.throttle.retryAfterMs(account, from);
    if (waitMs > 0) {
      c.header('retry-after', String(Math.ceil(waitMs / 1000)));
      return signInPage(
        c,
        429,
        `Too many failed sign-ins. Try again in ${Math.ceil(waitMs / 60_000)} minutes.`,
      );
    }
    let principal: { userId: string } | 'master' | undefined;
    if (master) {
      if (ctx.deps.credentials.isMasterKey(fields.master_key ?? '')) principal = 'master';
    } else {
      const user = findUserCredentials(db, account);
      const ok = await verifyPassword(fields.password ?? '', user?.password_hash ?? (await dummyHash()));
      if (ok && user !== undefined && user.password_hash !== null) principal = { userId: user.id };
    }
    if (principal === undefined) {
      await ctx.throttle.recordFailure(account, from);
      return signInPage(c, 401, master ? 'That is not the master key.' : 'Email or password is wrong.');
    }
    await ctx.throttle.recordSuccess(account);
    ctx.sessions.start(c, principal);
    deleteCookie(c, PRE_COOKIE, { path: '/' });
    return c.redirect('/keys', 303);
  });

  app.post('/sign-out', async (c) => {
    const session = ctx.sessions.load(c);
    const fields = await form(c);
    if (session !== undefined && !sameSecret(fields.csrf, session.csrf)) {
      setPageHeaders(c);
      return c.html(
        <SimpleMessage title="Not signed out" text="The request did not come from this console." />,
        403,
      );
    }
    ctx.sessions.end(c);
    return c.redirect('/sign-in', 303);
  });

  app.get('/set-password/:token', (c) => {
    setPageHeaders(c);
    const link = peekPasswordLink(db, c.req.param('token'), ctx.deps.clock.now());
    if (link === undefined) {
      return c.html(
        <SimpleMessage
          title="Link not valid"
          text="This link was already used, has expired or does not exist. Ask an admin for a new one."
        />,
        404,
      );
    }
    return c.html(<SetPasswordPage csrf={preToken(c)} email={link.email} />, 200);
  });

  app.post('/set-password/:token', async (c) => {
    setPageHeaders(c);
    const token = c.req.param('token');
    const fields = await form(c);
    const link = peekPasswordLink(db, token, ctx.deps.clock.now());
    if (link === undefined) {
      return c.html(
        <SimpleMessage
          title="Link not valid"
          text="This link was already used, has expired or does not exist."
        />,
        404,
      );
    }
    const again = (error: string, status: 400 | 403) =>
      c.html(<SetPasswordPage csrf={preToken(c)} email={link.email} error={error} />, status);
    if (!sameSecret(fields.csrf, getCookie(c, PRE_COOKIE))) return again('The form expired. Try again.', 403);
    const password = fields.password ?? '';
    const problem = passwordProblem(password);
    if (problem !== null) return again(problem, 400);
    if (password !== fields.confirm) return again('The two passwords differ.', 400);
    const hash = await hashPassword(password);
    if (!consumePasswordLink(db, token, hash, ctx.deps.clock.now(), c.get('requestId'))) {
      return c.html(<SimpleMessage title="Link not valid" text="This link was used meanwhile." />, 404);
    }
    deleteCookie(c, PRE_COOKIE, { path: '/' });
    return c.redirect('/sign-in?password=set', 303);
  });
}
