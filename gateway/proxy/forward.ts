/**
 * Forwards one admitted request to its target and hands back the answer for the client
 * (DESIGN.md hot path step 8). Promises:
 * - only the target's configured origin is contacted, on its base path + the endpoint's suffix;
 * - only allow-listed client headers travel (headers.ts, picked by the caller); the provider
 *   credential named by the target is added, the client's keygate key never leaves;
 * - the body is the client's bytes unless keygate rewrites it: `model` renamed to the target's
 *   upstream model, or usage asked for on a stream (removed again by the usage filter unless the
 *   client asked); the body was checked for depth and duplicate keys before admission;
 * - a JSON answer ends the settlement here (`settled`, or `failed` for an error status); a stream
 *   is handed back with it (sse-pipe.ts ends it); an upstream failure is `failed`, a client that
 *   left is `aborted`.
 */
import type { Endpoint } from '../endpoints.js';
import type { Settlement } from '../settlement.js';
import type { PreparedTarget } from '../target-catalog.js';
import { responseHeaders, type PlainHeaders } from './headers.js';
import type { SsePassThrough } from './sse-pipe.js';
import { SseUsageFilter } from './sse-usage-filter.js';
import {
  ResponseTooLargeError,
  type ClientSignal,
  type UpstreamAnswer,
  type UpstreamClient,
} from './upstream-client.js';
import { estimateAnswerOutputTokens } from './request-estimate.js';
import { usageOfJsonBuffer } from './usage-parse.js';

export interface ForwardRequest {
  endpoint: Endpoint;
  target: PreparedTarget;
  /** The allow-listed client headers. */
  headers: PlainHeaders;
  rawBody: Buffer;
  body: Record<string, unknown>;
  requestId: string;
  /** Aborts when the client goes away. */
  signal: ClientSignal | undefined;
  /** Provider credential for the target (value of its api_key_env), if any. */
  credential: string | undefined;
  /** keygate's headers on the client's response (x-request-id, x-ratelimit-*). */
  responseHeaders: Record<string, string>;
}

/** What the upstream answered, not yet written anywhere (reply.ts renders it). */
export type Answer =
  | { kind: 'body'; status: number; headers: PlainHeaders; body: Buffer; outcome: string }
  | { kind: 'stream'; status: number; headers: PlainHeaders; stream: SsePassThrough; outcome: string }
  | { kind: 'upstream_failed'; code: 'upstream_error' | 'upstream_timeout' | 'upstream_response_too_large' }
  | { kind: 'client_gone'; outcome: 'client_closed' };

export async function forward(
  client: UpstreamClient,
  request: ForwardRequest,
  settlement: Settlement,
): Promise<Answer> {
  const { target, body, endpoint } = request;
  const streaming = body.stream === true;
  let rewrite = false;
  const upstreamModel = target.route.upstreamModel;
  if (upstreamModel !== null && upstreamModel !== body.model) rewrite = true;
  // Ask for stream usage on the client's behalf (removed again below if it did not ask).
  const streamOptions = body.stream_options;
  const clientAskedUsage =
    typeof streamOptions === 'object' &&
    streamOptions !== null &&
    (streamOptions as Record<string, unknown>).include_usage === true;
  const injectUsage = streaming && !clientAskedUsage && endpoint.streamUsage;
  if (injectUsage) rewrite = true;
  let payload: Buffer | string = request.rawBody;
  if (rewrite) {
    const copy: Record<string, unknown> = { ...body };
    if (upstreamModel !== null) copy.model = upstreamModel;
    if (injectUsage) {
      const base = typeof streamOptions === 'object' && streamOptions !== null ? streamOptions : {};
      copy.stream_options = { ...base, include_usage: true };
    }
    payload = JSON.stringify(copy);
  }

  const headers = request.headers;
  headers['content-type'] = 'application/json';
  headers['x-request-id'] = request.requestId;
  if (request.credential !== undefined) headers.authorization = `Bearer ${request.credential}`;

  let upstream: UpstreamAnswer;
  try {
    upstream = await client.post(target, endpoint.upstreamSuffix, headers, payload, request.signal);
  } catch (error) {
    if (request.signal?.aborted === true) {
      settlement.aborted();
      return { kind: 'client_gone', outcome: 'client_closed' };
    }
    if (error instanceof ResponseTooLargeError) {
      // The upstream did the work: charge the input estimate, as for an answer cut short.
      settlement.aborted();
      return { kind: 'upstream_failed', code: 'upstream_response_too_large' };
    }
    settlement.failed();
    return { kind: 'upstream_failed', code: isTimeout(error) ? 'upstream_timeout' : 'upstream_error' };
  }

  const status = upstream.statusCode;
  const headersOut = responseHeaders(upstream.headers, request.responseHeaders);
  if (upstream.stream !== undefined) {
    const stream = { source: upstream.stream, filter: new SseUsageFilter(injectUsage), settlement };
    return { kind: 'stream', status, headers: headersOut, stream, outcome: 'ok' };
  }
  const buffer = upstream.body;
  if (status >= 400) {
    settlement.failed();
    return { kind: 'body', status, headers: headersOut, body: buffer, outcome: `upstream_${status}` };
  }
  const usage = usageOfJsonBuffer(buffer);
  settlement.settled(usage, usage === undefined ? estimateAnswerOutputTokens(buffer) : 0);
  return { kind: 'body', status, headers: headersOut, body: buffer, outcome: 'ok' };
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}
