/**
 * The gateway's decision for one proxied request, in DESIGN.md's hot-path order: body size →
 * key (verify-key.ts) → body (depth, duplicate keys, JSON object) → model exists → model allowed
 * → admission (windows and budgets). One union answers every refusal, as Unkey's `verifyKey`
 * does; an admitted decision carries the ticket that proxy-handler.ts hands to a Settlement.
 */
import type { KeyPolicyCache } from '../src/cache/key-policy-cache.js';
import type { Clock } from '../src/clock.js';
import type { ErrorCode } from '../src/errors/registry.js';
import type { Admission, AdmissionTicket, RateLimitHeaders } from '../src/policy/admission.js';
import type { ResolvedKeyPolicy } from '../src/policy/resolved-policy.js';
import type { AuthFailureThrottle } from '../src/ratelimit/auth-failure-throttle.js';
import type { GatewayMetrics } from './metrics.js';
import type { ProxyRequest } from './proxy/proxy-request.js';
import { parseRequestBody } from './proxy/request-body.js';
import { estimateInputTokens, maxOutputTokens } from './proxy/request-estimate.js';
import type { PreparedTarget, TargetCatalog } from './target-catalog.js';
import { verifyKey } from './verify-key.js';
import { requestTagsFor } from '../src/usage/request-tags.js';

export interface Admitted {
  ok: true;
  policy: ResolvedKeyPolicy;
  target: PreparedTarget;
  ticket: AdmissionTicket;
  /** x-ratelimit-* of the tightest scope. */
  headers: Record<string, string>;
  body: Record<string, unknown>;
  rawBody: Buffer;
  estimatedInputTokens: number;
  /** Request tags (`x-keygate-tags`, issue 14), when the key allows them and the request sent some. */
  tags: string[] | undefined;
}

export interface Refusal {
  ok: false;
  code: ErrorCode;
  param: string | null;
  message?: string;
  /** x-ratelimit-* when admission decided, else empty. */
  headers: Record<string, string>;
  /** Milliseconds until a refusing window resets (rate limits only). */
  retryAfterMs: number | null;
}

/** The client left while sending its body: nothing to answer. */
export interface ClientClosed {
  ok: false;
  code: 'client_closed';
}

export type Decision = Admitted | Refusal | ClientClosed;

export interface DecideDeps {
  clock: Clock;
  keys: KeyPolicyCache;
  catalog: TargetCatalog;
  admission: Admission;
  metrics: GatewayMetrics;
  limits: { maxBodyBytes: number; defaultMaxTokens: number; maxOutputTokens: number };
  /** Failed key lookups per client address (issue 10 item 9); absent = not throttled. */
  authThrottle?: AuthFailureThrottle;
}

export type Decide = (request: ProxyRequest) => Promise<Decision>;

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const CLIENT_CLOSED: ClientClosed = { ok: false, code: 'client_closed' };

function refusal(code: ErrorCode, param: string | null = null, message?: string): Refusal {
  return { ok: false, code, param, message, headers: NO_HEADERS, retryAfterMs: null };
}

export function createDecide(deps: DecideDeps): Decide {
  const { clock, keys, catalog, admission, metrics, limits } = deps;
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

  return async (request) => {
    const started = performance.now();
    const declared = request.header('content-length');
    if (declared !== undefined && Number(declared) > limits.maxBodyBytes) return refusal('request_too_large');

    // A blocked address is refused before hashing or any load; its failures are counted below.
    const blockedMs = deps.authThrottle?.blockedLocallyMs(request.clientAddress) ?? 0;
    if (blockedMs > 0) return { ...refusal('too_many_auth_failures'), retryAfterMs: blockedMs };
    const verdict = await verifyKey(
      request.header('authorization'),
      request.header('x-api-key'),
      keys,
      clock,
    );
    if (!verdict.ok) {
      // Counted before the answer leaves: with the shared (Redis) limiter, a client that waits
      // for each answer has its failures counted in order on every replica, so the block comes
      // at the same failure wherever it lands (not fire-and-forget: two consumes of consecutive
      // failures could reach Redis swapped, and the replica that got the earlier one would miss
      // the block). Only failed authentications wait, at most KEYGATE_REDIS_TIMEOUT_MS.
      if (verdict.code === 'invalid_api_key')
        await deps.authThrottle?.recordFailure(request.clientAddress).catch(() => {});
      return refusal(verdict.code);
    }
    const policy = verdict.policy;

    const read = await request.body(declared !== undefined, limits.maxBodyBytes);
    if (read.kind === 'too_large') return refusal('request_too_large');
    if (read.kind === 'gone') return CLIENT_CLOSED;
    const parsed = parseRequestBody(read.bytes);
    if (!parsed.ok) return refusal('invalid_request', parsed.param, parsed.message);
    const body = parsed.json;
    const model = body.model;
    if (typeof model !== 'string' || model === '') return refusal('invalid_request', 'model');
    if (!catalog.loaded) return refusal('auth_unavailable');
    const target = catalog.get(model);
    if (target === undefined) return refusal('model_not_found', 'model');
    if (!allowed(policy, model)) return refusal('model_not_allowed', 'model');
    const tags = requestTagsFor(request.header('x-keygate-tags'), policy.allowRequestTags);
    if (tags === null) {
      return refusal(
        'invalid_request',
        'x-keygate-tags',
        'x-keygate-tags: at most 10 tags of 1-64 of A-Za-z0-9._:-, on a key with allow_request_tags.',
      );
    }

    const estimatedInputTokens = estimateInputTokens(body);
    const outcome = await admission.admit({
      policy,
      target: target.route,
      estimatedInputTokens,
      maxOutputTokens: maxOutputTokens(body, limits.defaultMaxTokens, limits.maxOutputTokens),
    });
    let headers: Record<string, string>;
    try {
      metrics.decisionSeconds((performance.now() - started) / 1000);
      headers = rateLimitHeaders(outcome.headers);
      if (outcome.ok && outcome.shadowRefused !== undefined) {
        // Shadow limits (issue 14 item 8): reported, never refusing.
        headers['x-keygate-shadow-refused'] = outcome.shadowRefused.join(',');
        for (const param of outcome.shadowRefused) metrics.shadowRefusal(param);
      }
    } catch (error) {
      // Nothing owns the ticket yet: hand it back before the error travels on.
      if (outcome.ok) void admission.release(outcome.ticket).catch(() => {});
      throw error;
    }
    if (!outcome.ok) {
      const { code, param, retryAfterMs } = outcome;
      return { ok: false, code, param, headers, retryAfterMs };
    }
    return {
      ok: true,
      policy,
      target,
      ticket: outcome.ticket,
      headers,
      body,
      rawBody: read.bytes,
      estimatedInputTokens,
      tags,
    };
  };
}

export function rateLimitHeaders(h: RateLimitHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (h.limitRequests !== null) out['x-ratelimit-limit-requests'] = String(h.limitRequests);
  if (h.remainingRequests !== null) out['x-ratelimit-remaining-requests'] = String(h.remainingRequests);
  if (h.resetRequestsMs !== null) out['x-ratelimit-reset-requests'] = `${Math.ceil(h.resetRequestsMs)}ms`;
  if (h.limitTokens !== null) out['x-ratelimit-limit-tokens'] = String(h.limitTokens);
  if (h.remainingTokens !== null) out['x-ratelimit-remaining-tokens'] = String(h.remainingTokens);
  if (h.resetTokensMs !== null) out['x-ratelimit-reset-tokens'] = `${Math.ceil(h.resetTokensMs)}ms`;
  return out;
}
