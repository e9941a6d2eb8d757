/**
 * The gateway's HTTP surface (API.md "Gateway API"), routing only: the OpenAI-compatible proxy
 * routes (endpoints.ts → proxy-handler.ts), model list, health, readiness, metrics and the signed
 * invalidation push. Everything is passed in (`createGateway(deps)`), so tests swap any part;
 * gateway/main.ts wires the real ones.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sameSecret, secretDigest } from '../src/same-secret.js';
import { getRequestListener } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import type { ErrorCode } from '../src/errors/registry.js';
import type { RequestLog } from './request-log.js';
import type { ChangeBatch } from '../src/invalidation/change.js';
import type { InternalTokens } from '../src/invalidation/internal-token.js';
import { requestIdOf } from '../src/request-id.js';
import { ENDPOINTS, endpointOf, type Endpoint } from './endpoints.js';
import { createProxy, type ProxyDeps } from './proxy-handler.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import { registerInternalExplain, type LiveCounters } from './internal-explain.js';
import {
  NodeProxyRequest,
  WebProxyRequest,
  type GatewayEnv,
  type ProxyRequest,
} from './proxy/proxy-request.js';
import { refusalReply, replyResponse, writeReply } from './proxy/reply.js';
import { verifyKey } from './verify-key.js';

export type { UsageRecorder } from './proxy-handler.js';

export interface Readiness {
  ready: boolean;
  [detail: string]: unknown;
}

export interface GatewayDeps extends ProxyDeps {
  /** Applies a pushed change batch (ChangeFollower.receive). */
  changes: { receive(batch: ChangeBatch): Promise<void> };
  /** Verifies internal calls; without it `/internal/*` always answers 401. */
  internalTokens: InternalTokens | undefined;
  readiness: () => Readiness;
  /** When set, `/metrics` answers only `Authorization: Bearer <token>` (KEYGATE_METRICS_TOKEN). */
  metricsToken?: string;
  /** This gateway's live counters of a key (`GET /internal/explain`); absent = 404 there. */
  liveCounters?: (policy: ResolvedKeyPolicy) => Promise<LiveCounters>;
  /** One log line and the labelled metrics per proxied request (served path). */
  requestLog?: RequestLog;
}

/** The gateway: the Hono app, and the node:http listener that serves it (see createGateway). */
export interface Gateway {
  app: Hono<GatewayEnv>;
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  return createGateway(deps).app;
}

/**
 * Hono is the app framework: every route is registered on `app`, and `app.request()` answers
 * every one of them (the tests drive it that way). The served process uses `listener`, which
 * hands the four proxy routes (POST, exact path) straight to the same proxy logic over Node's
 * own request and response objects, and everything else (/v1/models, /healthz, /readyz,
 * /metrics, /internal/invalidate, 404s) to Hono through @hono/node-server's request listener.
 * The proxy routes are the hot path (issue 3): skipping the Web Request/Headers/Response
 * adaptation there (and reading the body as a Buffer, writing the upstream's answer with one
 * `res.end`) is the gateway's largest saving per request; the decisions are the same code.
 */
export function createGateway(deps: GatewayDeps): Gateway {
  const app = new Hono<GatewayEnv>();
  const { clock, keys, catalog, metrics } = deps;
  const proxy = createProxy(deps);
  const refusalResponse = (code: ErrorCode, requestId: string): Response => {
    metrics.outcome(code);
    return replyResponse(refusalReply(requestId, { code }));
  };
  const idOf = (c: Context<GatewayEnv>): string => requestIdOf(c.req.header('x-request-id'));
  const failed = (error: unknown, requestId: string): void => deps.onError?.(error, requestId);

  const honoProxy = async (c: Context<GatewayEnv>, endpoint: Endpoint): Promise<Response> => {
    const requestId = idOf(c);
    try {
      return await proxy(new WebProxyRequest(c), endpoint, requestId, replyResponse);
    } catch (error) {
      failed(error, requestId);
      return refusalResponse('internal_error', requestId);
    }
  };
  for (const endpoint of ENDPOINTS) app.post(endpoint.path, (c) => honoProxy(c, endpoint));

  app.get('/v1/models', async (c) => {
    const requestId = idOf(c);
    const verdict = await verifyKey(c.req.header('authorization'), c.req.header('x-api-key'), keys, clock);
    if (!verdict.ok) return refusalResponse(verdict.code, requestId);
    metrics.outcome('ok');
    const data = verdict.policy.effectiveTargets
      .filter((name) => catalog.get(name) !== undefined)
      .map((id) => ({ id, object: 'model', created: 0, owned_by: 'keygate' }));
    return c.json({ object: 'list', data }, 200, { 'x-request-id': requestId });
  });

  app.get('/healthz', (c) => c.json({ ok: true }, 200, { 'x-request-id': idOf(c) }));
  app.get('/readyz', (c) => {
    const state = deps.readiness();
    return c.json(state, state.ready ? 200 : 503, { 'x-request-id': idOf(c) });
  });
  const metricsAuthorization =
    deps.metricsToken === undefined ? undefined : secretDigest(`Bearer ${deps.metricsToken}`);
  app.get('/metrics', async (c) => {
    const requestId = idOf(c);
    if (
      metricsAuthorization !== undefined &&
      !sameSecret(c.req.header('authorization'), metricsAuthorization)
    )
      return refusalResponse('unauthenticated', requestId);
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType, 'x-request-id': requestId });
  });

  app.post('/internal/invalidate', async (c) => {
    const requestId = idOf(c);
    if (
      deps.internalTokens === undefined ||
      !(await deps.internalTokens.verify(c.req.header('authorization')))
    ) {
      return refusalResponse('unauthenticated', requestId);
    }
    let batch: ChangeBatch;
    try {
      batch = parseChangeBatch(await c.req.json(), clock.now());
    } catch {
      return refusalResponse('invalid_request', requestId);
    }
    await deps.changes.receive(batch);
    return c.body(null, 204, { 'x-request-id': requestId });
  });

  registerInternalExplain(app, deps, (code, c) => refusalResponse(code, idOf(c)));

  app.notFound((c) => refusalResponse('not_found', idOf(c)));
  app.onError((error, c) => {
    const requestId = idOf(c);
    failed(error, requestId);
    return refusalResponse('internal_error', requestId);
  });

  const honoListener = getRequestListener(app.fetch);
  const serveProxy = async (endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const request: ProxyRequest = new NodeProxyRequest(req, res);
    const requestId = requestIdOf(request.header('x-request-id'));
    const trace = deps.requestLog?.begin(requestId, endpoint.path);
    if (trace !== undefined) res.once('close', () => deps.requestLog!.end(trace, res.statusCode));
    try {
      await proxy(request, endpoint, requestId, (reply) => writeReply(reply, res), trace);
    } catch (error) {
      failed(error, requestId);
      if (res.headersSent) res.destroy();
      else {
        metrics.outcome('internal_error');
        writeReply(refusalReply(requestId, { code: 'internal_error' }), res);
      }
    }
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'POST') {
      const endpoint = endpointOf(req.url ?? '');
      if (endpoint !== undefined) {
        void serveProxy(endpoint, req, res);
        return;
      }
    }
    void honoListener(req, res);
  };
  return { app, listener };
}

function parseChangeBatch(value: unknown, now: number): ChangeBatch {
  const batch = value as ChangeBatch;
  if (
    typeof batch !== 'object' ||
    batch === null ||
    typeof batch.seq !== 'number' ||
    !Array.isArray(batch.changes)
  ) {
    throw new Error('not a change batch');
  }
  for (const change of batch.changes) {
    if (
      typeof change.seq !== 'number' ||
      typeof change.entityType !== 'string' ||
      typeof change.entityId !== 'string'
    ) {
      throw new Error('not a change');
    }
    if (!Array.isArray(change.tokenHashes)) change.tokenHashes = [];
    if (typeof change.at !== 'number') change.at = now;
  }
  return batch;
}
