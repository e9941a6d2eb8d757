/**
 * The admin plane's HTTP app: request ids, authentication, the resource routes of API.md,
 * the internal API for gateways, and `/openapi.json` generated from the same zod schemas that
 * validate requests.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { Context } from 'hono';
import { KeygateError, errorBody } from '../src/errors/keygate-error.js';
import { errorSpec, type ErrorCode } from '../src/errors/registry.js';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { bodyLimit } from 'hono/body-limit';
import { AuthFailureThrottle, authFailureLimits } from '../src/ratelimit/auth-failure-throttle.js';
import { authenticate } from './auth/authenticate.js';
import type { AdminDeps, AdminEnv } from './context.js';
import { matchedRoutes } from 'hono/route';
import { AdminMetrics } from './admin-metrics.js';
import { ADMIN_ROUTES } from './routes/index.js';
import { registerInternalRoutes } from './routes/internal.js';
import { describeIssues, strictRoutes } from './strict-input.js';
import { registerConsole } from './console/register-console.js';
import { requestIdOf } from '../src/request-id.js';
import { sameSecret, secretDigest } from '../src/same-secret.js';

export type AdminApp = OpenAPIHono<AdminEnv>;

export function errorResponse(
  c: Context<AdminEnv>,
  code: ErrorCode,
  options: { param?: string | null; message?: string } = {},
): Response {
  const body = errorBody(code, { ...options, requestId: c.get('requestId') });
  return c.json(body, errorSpec(code).status as ContentfulStatusCode);
}

export function createAdminApp(deps: AdminDeps): AdminApp {
  const app = new OpenAPIHono<AdminEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        return errorResponse(c, 'invalid_request', describeIssues(result.error.issues));
      }
      return undefined;
    },
  });

  const metrics = (deps.metrics ??= new AdminMetrics({ defaultMetrics: false }));
  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = requestIdOf(incoming);
    c.set('requestId', requestId);
    c.header('x-request-id', requestId);
    const started = performance.now();
    await next();
    metrics.httpRequest(c.req.method, routePath(c), c.res.status, (performance.now() - started) / 1000);
  });

  app.onError((error, c) => {
    if (error instanceof KeygateError)
      return errorResponse(c, error.code, { param: error.param, message: error.message });
    if (error instanceof HTTPException) {
      if (error.status === 415) {
        return errorResponse(c, 'invalid_request', { message: 'Content-Type must be application/json.' });
      }
      if (error.status === 400) return errorResponse(c, 'invalid_request', { message: error.message });
      if (error.status === 413) return errorResponse(c, 'request_too_large');
    }
    deps.logger.error({ err: error, requestId: c.get('requestId') }, 'unhandled admin error');
    return errorResponse(c, 'internal_error');
  });

  app.notFound((c) => errorResponse(c, 'not_found'));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  const metricsAuthorization =
    deps.config.metricsToken === undefined ? undefined : secretDigest(`Bearer ${deps.config.metricsToken}`);
  app.get('/metrics', async (c) => {
    if (
      metricsAuthorization !== undefined &&
      !sameSecret(c.req.header('authorization'), metricsAuthorization)
    )
      return errorResponse(c, 'unauthenticated');
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
  });

  registerInternalRoutes(app, deps);

  const throttle =
    deps.authThrottle ?? new AuthFailureThrottle(authFailureLimits(deps.config), { keyPrefix: 'admin-auth' });
  app.use('/v1/*', authenticate(deps, throttle));
  // After authentication (which reads no body), before any route parses one (issue 10 item 8).
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: deps.config.adminMaxBodyBytes,
      onError: (c) => errorResponse(c, 'request_too_large'),
    }),
  );
  strictRoutes(app);
  for (const register of ADMIN_ROUTES) register(app, deps);
  registerConsole(app, deps);

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'keygate admin API', version: '1' },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  return app;
}

/** The pattern of the route that answered (a bounded label), or "unmatched". */
function routePath(c: Context<AdminEnv>): string {
  const handler = matchedRoutes(c).findLast((route) => route.method !== 'ALL');
  return handler?.path ?? 'unmatched';
}
