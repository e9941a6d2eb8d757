/**
 * What the console's routes share: the admin app itself (pages read data by calling its JSON
 * routes with the browser's session cookie, so every rule lives in one place), the session
 * store and the sign-in throttle.
 */
import type { Context } from 'hono';
import { SessionStore, type LoadedSession } from '../auth/sessions.js';
import { SignInThrottle } from '../auth/sign-in-throttle.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps, AdminEnv } from '../context.js';

export interface Permissions {
  platform: string[];
  orgs: Record<string, string[]>;
  teams: Record<string, string[]>;
}

export interface Me {
  user: { id: string; email: string; name: string | null; platform_role: string } | null;
  caller: { type: string; id: string | null };
  permissions: Permissions;
}

export interface ConsoleContext {
  app: AdminApp;
  deps: AdminDeps;
  sessions: SessionStore;
  throttle: SignInThrottle;
}

export function createConsoleContext(app: AdminApp, deps: AdminDeps): ConsoleContext {
  return {
    app,
    deps,
    sessions: new SessionStore(
      deps.db,
      deps.clock,
      deps.config.sessionTtlMs,
      deps.credentials.masterFingerprint(),
    ),
    throttle: new SignInThrottle(),
  };
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

/** GET on the admin JSON API as the signed-in browser (its cookie), through the same routes as curl. */
export async function apiGet<T>(
  ctx: ConsoleContext,
  c: Context<AdminEnv>,
  path: string,
): Promise<ApiAnswer<T>> {
  const response = await ctx.app.request(path, {
    headers: { cookie: c.req.header('cookie') ?? '', 'x-request-id': c.get('requestId') },
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** A page request: its session and who the caller is. */
export interface PageState {
  session: LoadedSession;
  me: Me;
  csrf: string;
  path: string;
}

/** Whether the caller holds `permission` on the team (platform admins everywhere). */
export function canOnTeam(me: Me, permission: string, teamId: string): boolean {
  return me.permissions.platform.length > 0 || (me.permissions.teams[teamId] ?? []).includes(permission);
}

/** Whether the caller holds `permission` anywhere (a team or an org). */
export function canAnywhere(me: Me, permission: string): boolean {
  const p = me.permissions;
  return (
    p.platform.length > 0 ||
    Object.values(p.teams).some((list) => list.includes(permission)) ||
    Object.values(p.orgs).some((list) => list.includes(permission))
  );
}

export function identityLabel(me: Me): { name: string; role: string } {
  if (me.user === null) return { name: 'platform admin (master key)', role: 'master key' };
  return {
    name: me.user.name ?? me.user.email,
    role: me.user.platform_role === 'platform_admin' ? 'platform admin' : 'member',
  };
}
