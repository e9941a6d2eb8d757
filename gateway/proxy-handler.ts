/**
 * The proxy routes' handler: decide → forward → render. Everything after admission runs inside
 * one try/finally around the request's Settlement, so whatever throws, the ticket is settled,
 * released or aborted exactly once (a stream takes the settlement over when it is attached).
 * `render` writes the reply on whichever side served the request (reply.ts).
 */
import type { Clock } from '../src/clock.js';
import type { Admission } from '../src/policy/admission.js';
import { createDecide, type DecideDeps } from './decide.js';
import type { Endpoint } from './endpoints.js';
import type { GatewayMetrics } from './metrics.js';
import { RequestHeaderFilter } from './proxy/headers.js';
import { forward } from './proxy/forward.js';
import type { ProxyRequest } from './proxy/proxy-request.js';
import { CLIENT_GONE, refusalReply, type Reply } from './proxy/reply.js';
import type { UpstreamClient } from './proxy/upstream-client.js';
import type { RequestTrace } from './request-log.js';
import { Settlement } from './settlement.js';

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

  return async (request, endpoint, requestId, render, trace) => {
    const finish = (reply: Reply) => {
      metrics.outcome(reply.outcome);
      if (trace !== undefined) trace.code = reply.outcome;
      return render(reply);
    };
    const decision = await decide(request);
    if (!decision.ok)
      return finish(decision.code === 'client_closed' ? CLIENT_GONE : refusalReply(requestId, decision));

    const { policy, target, ticket, headers } = decision;
    headers['x-request-id'] = requestId;
    if (trace !== undefined) {
      trace.keyId = policy.key.id;
      trace.keyName = policy.keyName;
      trace.teamId = policy.team.id;
      trace.target = target.route.name;
    }
    const settlement = new Settlement(
      {
        admission,
        record: (usage, costMicros) => {
          if (trace !== undefined) {
            trace.inputTokens = usage.inputTokens;
            trace.outputTokens = usage.outputTokens;
            trace.costMicros = costMicros;
          }
          deps.usage.record(
            policy.key.id,
            target.route.name,
            usage.inputTokens,
            usage.outputTokens,
            costMicros,
            clock.now(),
          );
        },
        onError: (error) => deps.onError?.(error, requestId),
      },
      ticket,
      decision.estimatedInputTokens,
    );
    try {
      const apiKeyEnv = target.route.apiKeyEnv;
      const upstreamStarted = performance.now();
      const answer = await forward(
        deps.upstream,
        {
          endpoint,
          target,
          headers: clientHeaders.pick(request.forwardHeaders),
          rawBody: decision.rawBody,
          body: decision.body,
          requestId,
          signal: request.signal(),
          credential: apiKeyEnv === null ? undefined : deps.credential(apiKeyEnv),
          responseHeaders: headers,
        },
        settlement,
      );
      if (trace !== undefined)
        trace.upstreamMs = Math.round((performance.now() - upstreamStarted) * 100) / 100;
      return finish(answer.kind === 'upstream_failed' ? refusalReply(requestId, answer) : answer);
    } finally {
      settlement.close();
    }
  };
}
