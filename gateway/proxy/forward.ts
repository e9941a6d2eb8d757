/**
 * Forwards one admitted request to its target and hands back the answer for the client
 * (DESIGN.md hot path step 8). Promises:
 * - only the target's configured origin is contacted, on its base path + the fixed suffix;
 * - the client's keygate key never leaves (authorization, x-api-key, host and hop-by-hop
 *   headers are stripped); the provider credential named by the target is added instead;
 * - `model` is renamed to the target's upstream model when it has one;
 * - SSE passes through event by event as it arrives; for streamed chat/completions the
 *   upstream is asked for usage and the usage chunk is removed again unless the client asked;
 * - exactly one of the hooks runs: `settled` (usage, or undefined when the upstream gave none),
 *   `failed` (upstream error status, timeout, connection failure) or `aborted` (client gone).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Usage } from '../../src/policy/admission.js';
import type { PreparedTarget } from '../target-catalog.js';
import { SseUsageFilter } from './sse-usage-filter.js';
import {
  ResponseTooLargeError,
  type ClientSignal,
  type UpstreamAnswer,
  type UpstreamClient,
} from './upstream-client.js';
import { usageOfJsonBuffer } from './usage-parse.js';

export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'responses';

export const ENDPOINT_SUFFIX: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  responses: '/responses',
};

export interface ForwardHooks {
  settled(usage: Usage | undefined): void;
  failed(): void;
  aborted(): void;
}

export interface ForwardRequest {
  endpoint: Endpoint;
  target: PreparedTarget;
  /** The client's headers: Node's own object when served by node:http (cheaper), else web Headers. */
  clientHeaders: IncomingHttpHeaders | Headers;
  rawBody: Buffer;
  body: Record<string, unknown>;
  requestId: string;
  /** Aborts when the client goes away. */
  signal: ClientSignal | undefined;
  /** Provider credential for the target (value of its api_key_env), if any. */
  credential: string | undefined;
  /** Headers added to the client's response (x-request-id, x-ratelimit-*). */
  responseHeaders: Record<string, string>;
}

export type { ClientSignal };

/** Plain header objects keep @hono/node-server on its fast path (no web Headers built). */
export type PlainHeaders = Record<string, string | string[]>;

/**
 * What the upstream answered, not yet written anywhere: gateway/app.ts renders it either straight
 * to a node:http response (the served hot path) or as a Web Response (Hono's `app.request`).
 */
export type ForwardResult =
  | { kind: 'body'; status: number; headers: PlainHeaders; body: Buffer; outcome: string }
  | { kind: 'stream'; status: number; headers: PlainHeaders; stream: SsePassThrough; outcome: string }
  | {
      kind: 'error';
      code: 'upstream_error' | 'upstream_timeout' | 'upstream_response_too_large';
      outcome: string;
    }
  | { kind: 'client_gone'; outcome: string };

/** An admitted SSE answer: the upstream body, its usage filter and the hooks to run at its end. */
export interface SsePassThrough {
  source: Readable;
  filter: SseUsageFilter;
  hooks: ForwardHooks;
}

const STRIPPED_REQUEST_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'host',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'content-length',
  'accept-encoding',
  'cookie',
  'x-request-id',
]);

const STRIPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'x-request-id',
]);

export async function forward(
  client: UpstreamClient,
  request: ForwardRequest,
  hooks: ForwardHooks,
): Promise<ForwardResult> {
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
  const injectUsage = streaming && !clientAskedUsage && (endpoint === 'chat' || endpoint === 'completions');
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

  const headers: PlainHeaders = {};
  const sent = request.clientHeaders;
  if (sent instanceof Headers) {
    for (const [name, value] of sent) if (!STRIPPED_REQUEST_HEADERS.has(name)) headers[name] = value;
  } else {
    for (const name in sent) {
      const value = sent[name];
      if (value !== undefined && !STRIPPED_REQUEST_HEADERS.has(name)) headers[name] = value;
    }
  }
  headers['content-type'] = 'application/json';
  headers['x-request-id'] = request.requestId;
  if (request.credential !== undefined) headers.authorization = `Bearer ${request.credential}`;

  let upstream: UpstreamAnswer;
  try {
    upstream = await client.post(target, ENDPOINT_SUFFIX[endpoint], headers, payload, request.signal);
  } catch (error) {
    if (request.signal?.aborted === true) {
      hooks.aborted();
      return { kind: 'client_gone', outcome: 'client_closed' };
    }
    if (error instanceof ResponseTooLargeError) {
      // The upstream did the work: charge the input estimate, as for an answer cut short.
      hooks.aborted();
      return { kind: 'error', code: 'upstream_response_too_large', outcome: 'upstream_response_too_large' };
    }
    hooks.failed();
    return isTimeout(error)
      ? { kind: 'error', code: 'upstream_timeout', outcome: 'upstream_timeout' }
      : { kind: 'error', code: 'upstream_error', outcome: 'upstream_error' };
  }

  const responseHeaders = copyResponseHeaders(upstream.headers, request.responseHeaders);
  const status = upstream.statusCode;
  if (upstream.stream !== undefined) {
    return {
      kind: 'stream',
      status,
      headers: responseHeaders,
      stream: { source: upstream.stream, filter: new SseUsageFilter(injectUsage), hooks },
      outcome: 'ok',
    };
  }
  const buffer = upstream.body;
  if (status >= 400) {
    hooks.failed();
    return { kind: 'body', status, headers: responseHeaders, body: buffer, outcome: `upstream_${status}` };
  }
  hooks.settled(usageOfJsonBuffer(buffer));
  return { kind: 'body', status, headers: responseHeaders, body: buffer, outcome: 'ok' };
}

/** The SSE pass-through as a Web stream (Hono's Response path). */
export function sseWebStream(pass: SsePassThrough): ReadableStream<Uint8Array> {
  const { source, filter, hooks } = pass;
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let finished = false;
  const finish = (how: 'settled' | 'aborted'): void => {
    if (finished) return;
    finished = true;
    if (how === 'settled') hooks.settled(filter.usage);
    else hooks.aborted();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Loop until something can be sent: a pull that enqueues nothing is not called again.
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await iterator.next();
        } catch (error) {
          // Upstream cut or timed out mid-stream (or the client went away): charge the input.
          finish('aborted');
          controller.error(error);
          return;
        }
        if (next.done === true) {
          const tail = filter.end();
          if (tail !== undefined) controller.enqueue(tail);
          controller.close();
          finish('settled');
          return;
        }
        const out = filter.push(next.value);
        if (out !== undefined) {
          controller.enqueue(out);
          return;
        }
      }
    },
    cancel() {
      source.destroy();
      finish('aborted');
    },
  });
}

/**
 * The SSE pass-through written straight to a node:http response: each complete event goes out
 * as it arrives (with back-pressure), `settled` at the upstream's end, `aborted` when the
 * upstream fails mid-stream or the client goes away first.
 */
export function pipeSse(
  pass: SsePassThrough,
  status: number,
  headers: PlainHeaders,
  res: ServerResponse,
): void {
  const { source, filter, hooks } = pass;
  let finished = false;
  const finish = (how: 'settled' | 'aborted'): void => {
    if (finished) return;
    finished = true;
    if (how === 'settled') hooks.settled(filter.usage);
    else hooks.aborted();
  };
  res.writeHead(status, headers);
  res.flushHeaders();
  source.on('data', (chunk: Buffer) => {
    const out = filter.push(chunk);
    if (out !== undefined && !res.write(out)) source.pause();
  });
  res.on('drain', () => source.resume());
  source.on('end', () => {
    const tail = filter.end();
    if (tail !== undefined) res.end(tail);
    else res.end();
    finish('settled');
  });
  source.on('error', () => {
    // Upstream cut or timed out mid-stream: charge the input, cut the client's stream too.
    finish('aborted');
    res.destroy();
  });
  res.on('close', () => {
    if (res.writableFinished) return;
    source.destroy();
    finish('aborted');
  });
}

function copyResponseHeaders(
  source: Record<string, string | string[] | undefined>,
  extra: Record<string, string>,
): PlainHeaders {
  const headers: PlainHeaders = {};
  for (const name in source) {
    const value = source[name];
    if (value !== undefined && !STRIPPED_RESPONSE_HEADERS.has(name)) headers[name] = value;
  }
  for (const name in extra) headers[name] = extra[name]!;
  return headers;
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}
