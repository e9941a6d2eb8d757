/**
 * The gateway's HTTP surface (API.md "Gateway API"): the OpenAI-compatible proxy routes, model
 * list, health, readiness, metrics and the signed invalidation push. Everything is passed in
 * (`createGatewayApp(deps)`), so tests swap any part; gateway/main.ts wires the real ones.
 *
 * The proxy routes follow DESIGN.md's hot path in order: request id → body size → key →
 * cache/load → status, expiry → model exists → model allowed → admission → upstream → usage.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import type { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import type { Clock } from '../src/clock.js';
import { errorBody } from '../src/errors/keygate-error.js';
import { errorSpec, type ErrorCode } from '../src/errors/registry.js';
import type { ChangeBatch } from '../src/invalidation/change.js';
import type { InternalTokens } from '../src/invalidation/internal-token.js';
import type { Admission, RateLimitHeaders, Usage } from '../src/policy/admission.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import type { GatewayMetrics } from './metrics.js';
import { authenticate } from './middleware/authenticate.js';
import { forward, type ClientSignal, type Endpoint } from './proxy/forward.js';
import { estimateInputTokens, maxOutputTokens } from './proxy/request-estimate.js';
import type { UpstreamClient } from './proxy/upstream-client.js';
import type { TargetCatalog } from './target-catalog.js';

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
}

type Env = { Bindings: Partial<HttpBindings> };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `x-request-id` when it is sane, else a fresh one. */
function requestIdOf(c: Context<Env>): string {
  const sent = c.req.header('x-request-id');
  return sent !== undefined && REQUEST_ID.test(sent) ? sent : randomUUID();
}

export function createGatewayApp(deps: GatewayDeps): Hono<Env> {
  const app = new Hono<Env>();
  const { clock, keys, catalog, admission, metrics } = deps;
  const effectiveSets = new WeakMap<ResolvedKeyPolicy, Set<string>>();
  const allowed = (policy: ResolvedKeyPolicy, name: string): boolean => {
    let set = effectiveSets.get(policy);
    if (set === undefined) {
      set = new Set(policy.effectiveTargets);
      effectiveSets.set(policy, set);
    }
    return set.has(name);
  };

  /** An OpenAI-shaped error; headers are a plain object (node-server's fast path). */
  const refuse = (
    code: ErrorCode,
    requestId: string,
    param: string | null = null,
    extra?: Record<string, string>,
  ): Response => {
    metrics.outcome(code);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
    if (extra !== undefined) for (const name in extra) headers[name] = extra[name]!;
    return new Response(JSON.stringify(errorBody(code, { param })), {
      status: errorSpec(code).status,
      headers,
    });
  };

  const proxy = async (c: Context<Env>, endpoint: Endpoint): Promise<Response> => {
    const started = performance.now();
    const requestId = requestIdOf(c);
    const declared = c.req.header('content-length');
    if (declared !== undefined && Number(declared) > deps.limits.maxBodyBytes) {
      return refuse('request_too_large', requestId);
    }

    const auth = await authenticate(c.req.header('authorization'), c.req.header('x-api-key'), keys, clock);
    if (!auth.ok) return refuse(auth.code, requestId);
    const policy = auth.policy;

    const raw = await readBody(c.req.raw, declared !== undefined, deps.limits.maxBodyBytes);
    if (raw === undefined) return refuse('request_too_large', requestId);
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return refuse('invalid_request', requestId);
      }
      body = parsed as Record<string, unknown>;
    } catch {
      return refuse('invalid_request', requestId);
    }
    const model = body.model;
    if (typeof model !== 'string' || model === '') return refuse('invalid_request', requestId, 'model');
    if (!catalog.loaded) return refuse('auth_unavailable', requestId);
    const target = catalog.get(model);
    if (target === undefined) return refuse('model_not_found', requestId, 'model');
    if (!allowed(policy, model)) return refuse('model_not_allowed', requestId, 'model');

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
      return refuse(outcome.code, requestId, outcome.param, responseHeaders);
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
        clientHeaders: c.env?.incoming?.headers ?? c.req.raw.headers,
        rawBody: raw,
        body,
        requestId,
        signal: clientSignal(c),
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
    if (result.kind === 'error') return refuse(result.code, requestId);
    metrics.outcome(result.outcome);
    if (result.kind === 'client_gone') return new Response(null, { status: 499 });
    return result.response;
  };

  app.post('/v1/chat/completions', (c) => proxy(c, 'chat'));
  app.post('/v1/completions', (c) => proxy(c, 'completions'));
  app.post('/v1/embeddings', (c) => proxy(c, 'embeddings'));
  app.post('/v1/responses', (c) => proxy(c, 'responses'));

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
  return app;
}

/**
 * Aborts when the client disconnects before its answer is complete. On node:http an
 * EventEmitter on the response's `close` (cheaper than the AbortController that the Web
 * Request's signal would build); elsewhere (app.request in tests) the Request's signal.
 */
function clientSignal(c: Context<Env>): ClientSignal {
  const outgoing = c.env?.outgoing;
  if (outgoing === undefined) return c.req.raw.signal;
  const signal = Object.assign(new EventEmitter(), { aborted: false });
  outgoing.once('close', () => {
    if (outgoing.writableFinished) return;
    signal.aborted = true;
    signal.emit('abort');
  });
  return signal;
}

function rateLimitHeaders(h: RateLimitHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (h.limitRequests !== null) out['x-ratelimit-limit-requests'] = String(h.limitRequests);
  if (h.remainingRequests !== null) out['x-ratelimit-remaining-requests'] = String(h.remainingRequests);
  if (h.resetRequestsMs !== null) out['x-ratelimit-reset-requests'] = `${Math.ceil(h.resetRequestsMs)}ms`;
  if (h.limitTokens !== null) out['x-ratelimit-limit-tokens'] = String(h.limitTokens);
  if (h.remainingTokens !== null) out['x-ratelimit-remaining-tokens'] = String(h.remainingTokens);
  if (h.resetTokensMs !== null) out['x-ratelimit-reset-tokens'] = `${Math.ceil(h.resetTokensMs)}ms`;
  return out;
}

/** The body as a Buffer, or undefined when it is larger than `max` (chunked bodies are counted). */
async function readBody(request: Request, hasLength: boolean, max: number): Promise<Buffer | undefined> {
  if (hasLength) return Buffer.from(await request.arrayBuffer());
  if (request.body === null) return Buffer.alloc(0);
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    parts.push(value);
  }
  return Buffer.concat(parts);
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
