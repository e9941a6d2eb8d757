/** Registers a signed-in console page: no session → /sign-in; otherwise the Layout around its body. */
import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { AdminApp } from '../app.js';
import type { AdminEnv } from '../context.js';
import { apiGet, type ConsoleContext, type Me, type PageState } from './console-context.js';
import { Layout, setPageHeaders } from './layout.js';

export type PageBody = (c: Context<AdminEnv>, state: PageState) => Promise<{ title: string; body: Child }>;

export function page(app: AdminApp, ctx: ConsoleContext, path: string, render: PageBody): void {
  app.get(path, async (c) => {
    const session = ctx.sessions.load(c);
    if (session === undefined) return c.redirect('/sign-in', 303);
    const me = await apiGet<Me>(ctx, c, '/v1/me');
    if (me.status !== 200) return c.redirect('/sign-in', 303);
    const state: PageState = { session, me: me.body, csrf: session.csrf, path: c.req.path };
    const { title, body } = await render(c, state);
    setPageHeaders(c);
    return c.html(
      <Layout state={state} title={title}>
        {body}
      </Layout>,
    );
  });
}

export interface ListAnswer<T> {
  data: T[];
  next_cursor: string | null;
}

export function formatTime(iso: string | null): string {
  return iso === null ? 'Never' : iso.replace('T', ' ').slice(0, 16) + ' UTC';
}

export function usd(value: number | null): string {
  return value === null ? '—' : `$${value.toFixed(2)}`;
}
