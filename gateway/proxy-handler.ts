/**
 * The proxy routes' handler: decide → forward → render. Everything after admission runs inside
 * one try/finally around the request's Settlement, so whatever throws, the ticket is settled,
 * released or aborted exactly once (a stream takes the settlement over when it is attached).
 * `render` writes the reply on whichever side served the request (reply.ts).
 */
import type { Clock } from '../src/clock.js';
import type { Admission, Usage } from '../src/policy/admission.js';
import { createDecide, type Admitted, type DecideDeps } from './decide.js';
import type { Endpoint } from './endpoints.js';
import type { GatewayMetrics } from './metrics.js';
import { RequestHeaderFilter } from './proxy/headers.js';
import { forward, type ForwardRequest } from './proxy/forward.js';
import type { ProxyRequest } from './proxy/proxy-request.js';
import { CLIENT_GONE, refusalReply, type Reply } from './proxy/reply.js';
import type { UpstreamClient } from './proxy/upstream-client.js';
import type { RequestTrace } from './request-log.js';
import { Settlement } from './settlement.js';
import type { UsageReporter } from './usage/usage-reporter.js';

/** Where a settled request's usage goes (the usage reporter). */
export type UsageRecorder = Pick<UsageReporter, 'record'>;

export interface ProxyDeps extends DecideDeps {
  clock: Clock;
  admission: Admission;
  metrics: GatewayMetrics;
  upstream: UpstreamClient;
  usage: UsageRecorder;
  /** Provider credential by env var name (read config-side; nothing here reads process.env). */
  credential: (envName: string) => string | undefined;
  /** Extra client headers forwarded upstream (KEYGATE_FORWARD_HEADERS). */
  forwardHeaders?: readonly string[];
  onError?: (error: unknown, requestId: string) => void;
}

export type Proxy = <T>(
  request: ProxyRequest,
  endpoint: Endpoint,
  requestId: string,
  render: (reply: Reply) => T,
  /** Filled as the request goes, for its log line and metrics (request-log.ts). */
  trace?: RequestTrace,
) => Promise<T>;

export function createProxy(deps: ProxyDeps): Proxy {
  const decide = createDecide(deps);
  const clientHeaders = new RequestHeaderFilter(deps.forwardHeaders);
  const { admission, metrics, clock } = deps;

  /** The owner of an admitted request's ticket; its usage is booked under the key and target. */
  const settlementOf = (decision: Admitted, requestId: string, trace?: RequestTrace): Settlement => {
    const keyId = decision.policy.key.id;
    const target = decision.target.route.name;
    const tags = decision.tags;
    if (trace !== undefined) {
      trace.keyId = keyId;
      trace.keyName = decision.policy.keyName;
      trace.teamId = decision.policy.team.id;
      trace.target = target;
    }
    const record = (usage: Usage, costMicros: number): void => {
      if (trace !== undefined) {
        trace.inputTokens = usage.inputTokens;
        trace.outputTokens = usage.outputTokens;
        trace.costMicros = costMicros;
      }
      deps.usage.record(keyId, target, usage.inputTokens, usage.outputTokens, costMicros, clock.now(), tags);
    };
    const onError = (error: unknown): void => deps.onError?.(error, requestId);
    return new Settlement({ admission, record, onError }, decision.ticket, decision.estimatedInputTokens);
  };

  const upstreamRequest = (
    decision: Admitted,
    request: ProxyRequest,
    endpoint: Endpoint,
    requestId: string,
  ): ForwardRequest => {
    const apiKeyEnv = decision.target.route.apiKeyEnv;
    decision.headers['x-request-id'] = requestId;
    return {
      endpoint,
      target: decision.target,
      headers: clientHeaders.pick(request.forwardHeaders),
      rawBody: decision.rawBody,
      body: decision.body,
      requestId,
      signal: request.signal(),
      credential: apiKeyEnv === null ? undefined : deps.credential(apiKeyEnv),
      responseHeaders: decision.headers,
    };
  };

  return async (request, endpoint, requestId, render, trace) => {
    const finish = (reply: Reply) => {
      metrics.outcome(reply.outcome);
      if (trace !== undefined) trace.code = reply.outcome;
      return render(reply);
    };
    const decision = await decide(request);
    if (!decision.ok)
      return finish(decision.code === 'client_closed' ? CLIENT_GONE : refusalReply(requestId, decision));
    const settlement = settlementOf(decision, requestId, trace);
    try {
      const upstream = upstreamRequest(decision, request, endpoint, requestId);
      const upstreamStarted = performance.now();
      const answer = await forward(deps.upstream, upstream, settlement);
      if (trace !== undefined)
        trace.upstreamMs = Math.round((performance.now() - upstreamStarted) * 100) / 100;
      return finish(answer.kind === 'upstream_failed' ? refusalReply(requestId, answer) : answer);
    } finally {
      settlement.close();
    }
  };
}
