/**
 * `POST /v1/users/:id/password-link` (platform admins): a one-time, expiring set-password link
 * for the console (admin/auth/password-links.ts). The token is in the answer only; the audit row
 * records that a link was made and until when, never the token.
 */
import { createRoute } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { createPasswordLink, SET_PASSWORD_PATH } from '../auth/password-links.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate } from '../mutation.js';
import { idParam, isoOrNull, ok, security } from '../schemas.js';
import { visibleUser } from './users.js';

export function registerPasswordLinkRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/users/{id}/password-link',
      security,
      request: { params: idParam },
      responses: { 201: ok('{url, path, expires_at}: a one-time set-password link (shown only here)') },
    }),
    (c) => {
      const access = c.get('access');
      const user = visibleUser(deps, access, c.req.valid('param').id);
      if (!access.isPlatformAdmin) throw new KeygateError('forbidden');
      const link = mutate(deps, c, (journal) => {
        const created = createPasswordLink(deps.db, user.id, journal.now, deps.config.passwordLinkTtlMs);
        journal.audit({
          action: 'user.password_link.create',
          entityType: 'user',
          entityId: user.id,
          after: { expires_at: isoOrNull(created.expiresAt) },
        });
        return created;
      });
      const path = `${SET_PASSWORD_PATH}${link.token}`;
      return c.json(
        { url: `${new URL(c.req.url).origin}${path}`, path, expires_at: isoOrNull(link.expiresAt) },
        201,
      );
    },
  );
}
