/**
 * The web console, served by the admin plane (issue 16): `/` → API Keys (or sign-in), the pages,
 * sign-in/out and set-password, and the local assets. Pages read through the JSON API routes
 * (console-context.ts apiGet); the browser script writes through them with the session cookie and
 * the CSRF header. No second implementation of any rule.
 */
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { registerConsoleAssets } from './assets.js';
import { auditPage } from './audit-page.js';
import { createConsoleContext } from './console-context.js';
import { keyDetailPage } from './key-detail-page.js';
import { keysPage } from './keys-page.js';
import { page } from './pages.js';
import { registerSignInRoutes } from './sign-in-routes.js';
import { targetsPage } from './targets-page.js';
import { teamDetailPage, teamsPage } from './teams-page.js';
import { usersPage } from './users-page.js';

export function registerConsole(app: AdminApp, deps: AdminDeps): void {
  const ctx = createConsoleContext(app, deps);
  registerConsoleAssets(app);
  registerSignInRoutes(app, ctx);
  app.get('/', (c) => c.redirect(ctx.sessions.load(c) === undefined ? '/sign-in' : '/keys', 303));
  page(app, ctx, '/keys', (c, state) => keysPage(ctx, c, state));
  page(app, ctx, '/keys/:id', (c, state) => keyDetailPage(ctx, c, state));
  page(app, ctx, '/teams', (c) => teamsPage(ctx, c));
  page(app, ctx, '/teams/:id', (c) => teamDetailPage(ctx, c));
  page(app, ctx, '/targets', (c) => targetsPage(ctx, c));
  page(app, ctx, '/users', (c, state) => usersPage(ctx, c, state));
  page(app, ctx, '/audit', (c) => auditPage(ctx, c));
}
