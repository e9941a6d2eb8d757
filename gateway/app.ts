/**
 * The gateway's HTTP surface (API.md "Gateway API"): the OpenAI-compatible proxy routes, model
 * list, health, readiness, metrics and the signed invalidation push. Everything is passed in
 * (`createGatewayApp(deps)`), so tests swap any part; gateway/main.ts wires the real ones.
 *
 * The proxy routes follow DESIGN.md's hot path in order: request id → body size → key →
 * cache/load → status, expiry → model exists → model allowed → admission → upstream → usage.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import type { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import type { Clock } from '../src/clock.js';
import type { ErrorCode } from '../src/errors/registry.js';
import type { ChangeBatch } from '../src/invalidation/change.js';
import type { InternalTokens } from '../src/invalidation/internal-token.js';
import type { Admission, Usage } from '../src/policy/admission.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import { retryAfterSeconds, type AuthFailureThrottle } from '../src/ratelimit/auth-failure-throttle.js';
import type { GatewayMetrics } from './metrics.js';
import { authenticate } from './middleware/authenticate.js';
import { forward, type Endpoint } from './proxy/forward.js';
import { estimateInputTokens, maxOutputTokens } from './proxy/request-estimate.js';
import type { UpstreamClient } from './proxy/upstream-client.js';
import type { TargetCatalog } from './target-catalog.js';
import {
  GONE,
  NodeProxyRequest,
  TOO_LARGE,
  WebProxyRequest,
  type GatewayEnv,
  type ProxyRequest,
} from './proxy/proxy-request.js';
import { rateLimitHeaders, replyResponse, writeReply, type Reply } from './proxy/reply.js';

export interface UsageRecorder {
  record(
    keyId: string,
    target: string,
    inputTokens: number,
    outputTokens: number,
    spendMicros: number,
    at: number,
  ): void;
}

export interface Readiness {
  ready: boolean;
  [detail: string]: unknown;
}

export interface GatewayDeps {
  clock: Clock;
  keys: KeyPolicyCache;
  catalog: TargetCatalog;
  admission: Admission;
  upstream: UpstreamClient;
  usage: UsageRecorder;
  metrics: GatewayMetrics;
  /** Applies a pushed change batch (ChangeFollower.receive). */
  changes: { receive(batch: ChangeBatch): Promise<void> };
  /** Verifies internal calls; without it `/internal/*` always answers 401. */
  internalTokens: InternalTokens | undefined;
  /** Provider credential by env var name (read config-side; nothing here reads process.env). */
  credential: (envName: string) => string | undefined;
  readiness: () => Readiness;
  limits: { maxBodyBytes: number; defaultMaxTokens: number };
  onError?: (error: unknown) => void;
  /** Failed key lookups per client address (issue 10 item 9); absent = not throttled. */
  authThrottle?: AuthFailureThrottle;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `x-request-id` when it is sane, else a fresh one. */
function saneRequestId(sent: string | undefined): string {
  return sent !== undefined && REQUEST_ID.test(sent) ? sent : randomUUID();
}

function requestIdOf(c: Context<GatewayEnv>): string {
  return saneRequestId(c.req.header('x-request-id'));
}

/** The four proxied routes, by exact path (a query string is ignored, as Hono's router does). */
const PROXY_ROUTES = new Map<string, Endpoint>([
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/responses', 'responses'],
]);

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
  const { clock, keys, catalog, admission, metrics } = deps;
  // Keyed by the target list, which the loader interns (src/cache/policy-interner.ts): one Set per
  // distinct effective set, not one per cached key.
  const effectiveSets = new WeakMap<readonly string[], Set<string>>();
  const allowed = (policy: ResolvedKeyPolicy, name: string): boolean => {
    let set = effectiveSets.get(policy.effectiveTargets);
    if (set === undefined) {
      set = new Set(policy.effectiveTargets);
      effectiveSets.set(policy.effectiveTargets, set);
    }
    return set.has(name);
  };

  const refusal = (
    code: ErrorCode,
    requestId: string,
    param: string | null = null,
    extra?: Record<string, string>,
  ): Reply => {
    metrics.outcome(code);
    return { kind: 'refuse', code, requestId, param, extra };
  };

  /** An OpenAI-shaped error; headers are a plain object (node-server's fast path). */
  const refuse = (
    code: ErrorCode,
    requestId: string,
    param: string | null = null,
    extra?: Record<string, string>,
  ): Response => replyResponse(refusal(code, requestId, param, extra));

  const proxy = async (request: ProxyRequest, endpoint: Endpoint): Promise<Reply> => {
    const started = performance.now();
    const requestId = saneRequestId(request.header('x-request-id'));
    const declared = request.header('content-length');
    if (declared !== undefined && Number(declared) > deps.limits.maxBodyBytes) {
      return refusal('request_too_large', requestId);
    }

    const blockedMs = deps.authThrottle?.blockedLocallyMs(request.clientAddress) ?? 0;
    if (blockedMs > 0) {
      return refusal('too_many_auth_failures', requestId, null, {
        'retry-after': retryAfterSeconds(blockedMs),
      });
    }
    const auth = await authenticate(
      request.header('authorization'),
      request.header('x-api-key'),
      keys,
      clock,
    );
    if (!auth.ok) {
      if (auth.code === 'invalid_api_key')
        deps.authThrottle
          ?.recordFailure(request.clientAddress)
          .catch((error: unknown) => deps.onError?.(error));
      return refusal(auth.code, requestId);
    }
    const policy = auth.policy;

    const raw = await request.body(declared !== undefined, deps.limits.maxBodyBytes);
    if (raw === TOO_LARGE) return refusal('request_too_large', requestId);
    if (raw === GONE) {
      metrics.outcome('client_closed');
      return { kind: 'client_gone', outcome: 'client_closed' };
    }
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return refusal('invalid_request', requestId);
      }
      body = parsed as Record<string, unknown>;
    } catch {
      return refusal('invalid_request', requestId);
    }
    const model = body.model;
    if (typeof model !== 'string' || model === '') return refusal('invalid_request', requestId, 'model');
    if (!catalog.loaded) return refusal('auth_unavailable', requestId);
    const target = catalog.get(model);
    if (target === undefined) return refusal('model_not_found', requestId, 'model');
    if (!allowed(policy, model)) return refusal('model_not_allowed', requestId, 'model');

    const estimatedInputTokens = estimateInputTokens(body);
    const outcome = await admission.admit({
      policy,
      target: target.route,
      estimatedInputTokens,
      maxOutputTokens: maxOutputTokens(body, deps.limits.defaultMaxTokens),
    });
    metrics.decisionSeconds((performance.now() - started) / 1000);
    const responseHeaders = rateLimitHeaders(outcome.headers);
    if (!outcome.ok) {
      if (outcome.retryAfterMs !== null) {
        responseHeaders['retry-after'] = String(Math.ceil(outcome.retryAfterMs / 1000));
        responseHeaders['retry-after-ms'] = String(Math.ceil(outcome.retryAfterMs));
      }
      if (outcome.code === 'budget_exceeded') responseHeaders['x-should-retry'] = 'false';
      return refusal(outcome.code, requestId, outcome.param, responseHeaders);
    }
    responseHeaders['x-request-id'] = requestId;

    const ticket = outcome.ticket;
    const keyId = policy.key.id;
    const targetName = target.route.name;
    const record = (usage: Usage, costMicros: number): void =>
      deps.usage.record(keyId, targetName, usage.inputTokens, usage.outputTokens, costMicros, clock.now());
    const onError = (error: unknown): void => deps.onError?.(error);
    const apiKeyEnv = target.route.apiKeyEnv;
    const result = await forward(
      deps.upstream,
      {
        endpoint,
        target,
        clientHeaders: request.forwardHeaders,
        rawBody: raw,
        body,
        requestId,
        signal: request.signal(),
        credential: apiKeyEnv === null ? undefined : deps.credential(apiKeyEnv),
        responseHeaders,
      },
      {
        settled(usage) {
          const actual = usage ?? { inputTokens: estimatedInputTokens, outputTokens: 0 };
          admission.settle(ticket, actual).then(({ costMicros }) => record(actual, costMicros), onError);
        },
        failed() {
          admission.release(ticket).catch(onError);
        },
        aborted() {
          admission
            .abort(ticket)
            .then(
              ({ costMicros }) => record({ inputTokens: estimatedInputTokens, outputTokens: 0 }, costMicros),
              onError,
            );
        },
      },
    );
    if (result.kind === 'error') return refusal(result.code, requestId);
    metrics.outcome(result.outcome);
    return result;
  };

  const honoProxy = async (c: Context<GatewayEnv>, endpoint: Endpoint): Promise<Response> =>
    replyResponse(await proxy(new WebProxyRequest(c), endpoint));

  for (const [path, endpoint] of PROXY_ROUTES) app.post(path, (c) => honoProxy(c, endpoint));

  app.get('/v1/models', async (c) => {
    const requestId = requestIdOf(c);
    const auth = await authenticate(c.req.header('authorization'), c.req.header('x-api-key'), keys, clock);
    if (!auth.ok) return refuse(auth.code, requestId);
    metrics.outcome('ok');
    const data = auth.policy.effectiveTargets
      .filter((name) => catalog.get(name) !== undefined)
      .map((id) => ({ id, object: 'model', created: 0, owned_by: 'keygate' }));
    return c.json({ object: 'list', data }, 200, { 'x-request-id': requestId });
  });

  app.get('/healthz', (c) => c.json({ ok: true }, 200, { 'x-request-id': requestIdOf(c) }));
  app.get('/readyz', (c) => {
    const state = deps.readiness();
    return c.json(state, state.ready ? 200 : 503, { 'x-request-id': requestIdOf(c) });
  });
  app.get('/metrics', async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, {
      'content-type': metrics.registry.contentType,
      'x-request-id': requestIdOf(c),
    });
  });

  app.post('/internal/invalidate', async (c) => {
    const requestId = requestIdOf(c);
    if (
      deps.internalTokens === undefined ||
      !(await deps.internalTokens.verify(c.req.header('authorization')))
    ) {
      return refuse('unauthenticated', requestId);
    }
    let batch: ChangeBatch;
    try {
      batch = parseChangeBatch(await c.req.json());
    } catch {
      return refuse('invalid_request', requestId);
    }
    await deps.changes.receive(batch);
    return c.body(null, 204, { 'x-request-id': requestId });
  });

  app.notFound((c) => refuse('not_found', requestIdOf(c)));
  app.onError((error, c) => {
    deps.onError?.(error);
    return refuse('internal_error', requestIdOf(c));
  });

  const honoListener = getRequestListener(app.fetch);
  const serveProxy = async (endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      writeReply(await proxy(new NodeProxyRequest(req, res), endpoint), res);
    } catch (error) {
      deps.onError?.(error);
      if (res.headersSent) res.destroy();
      else
        writeReply(
          refusal('internal_error', saneRequestId(req.headers['x-request-id'] as string | undefined)),
          res,
        );
    }
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'POST') {
      const url = req.url ?? '';
      const query = url.indexOf('?');
      const endpoint = PROXY_ROUTES.get(query < 0 ? url : url.slice(0, query));
      if (endpoint !== undefined) {
        void serveProxy(endpoint, req, res);
        return;
      }
    }
    void honoListener(req, res);
  };
  return { app, listener };
}

function parseChangeBatch(value: unknown): ChangeBatch {
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
    if (typeof change.at !== 'number') change.at = Date.now();
  }
  return batch;
}
