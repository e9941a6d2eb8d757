/**
 * The proxy's answer (a refusal, an upstream body or stream, or nothing when the client left),
 * rendered by whichever side served the request: straight to node:http's response on the hot
 * path, or as a Web Response for Hono. Every reply carries its `outcome` (the metrics label).
 */
import type { ServerResponse } from 'node:http';
import { errorBody } from '../../src/errors/keygate-error.js';
import { errorSpec, type ErrorCode } from '../../src/errors/registry.js';
import type { Answer } from './forward.js';
import { pipeSse, sseWebStream } from './sse-pipe.js';

export interface RefusalReply {
  kind: 'refusal';
  code: ErrorCode;
  param: string | null;
  message: string | undefined;
  headers: Record<string, string>;
  outcome: ErrorCode;
}

export type Reply = RefusalReply | Exclude<Answer, { kind: 'upstream_failed' }>;

export const CLIENT_GONE: Reply = { kind: 'client_gone', outcome: 'client_closed' };

/**
 * An OpenAI-shaped error reply. Headers: x-request-id, `x-should-retry` from the registry (the
 * OpenAI SDKs obey it), `retry-after` / `retry-after-ms` when a window says when to come back,
 * and `extra` (x-ratelimit-* of the tightest scope when admission decided).
 */
export function refusalReply(
  requestId: string,
  refusal: {
    code: ErrorCode;
    param?: string | null;
    message?: string;
    retryAfterMs?: number | null;
    headers?: Record<string, string>;
  },
): RefusalReply {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-request-id': requestId,
    'x-should-retry': String(errorSpec(refusal.code).retryable),
  };
  const retryAfterMs = refusal.retryAfterMs ?? null;
  if (retryAfterMs !== null) {
    headers['retry-after'] = String(Math.ceil(retryAfterMs / 1000));
    headers['retry-after-ms'] = String(Math.ceil(retryAfterMs));
  }
  const extra = refusal.headers;
  if (extra !== undefined) for (const name in extra) headers[name] = extra[name]!;
  return {
    kind: 'refusal',
    code: refusal.code,
    param: refusal.param ?? null,
    message: refusal.message,
    headers,
    outcome: refusal.code,
  };
}

function refusalJson(reply: RefusalReply): string {
  return JSON.stringify(errorBody(reply.code, { param: reply.param, message: reply.message }));
}

/** A Reply as a Web Response (Hono's side). */
export function replyResponse(reply: Reply): Response {
  switch (reply.kind) {
    case 'refusal':
      return new Response(refusalJson(reply), {
        status: errorSpec(reply.code).status,
        headers: reply.headers,
      });
    case 'body':
      return new Response(reply.body, { status: reply.status, headers: reply.headers });
    case 'stream':
      return new Response(sseWebStream(reply.stream), { status: reply.status, headers: reply.headers });
    case 'client_gone':
      return new Response(null, { status: 499 });
  }
}

/** A Reply written straight to node:http's response (the served hot path). */
export function writeReply(reply: Reply, res: ServerResponse): void {
  switch (reply.kind) {
    case 'refusal': {
      // A whole answer says its length (writeHead with no content-length would frame it chunked).
      const json = refusalJson(reply);
      reply.headers['content-length'] = String(Buffer.byteLength(json));
      res.writeHead(errorSpec(reply.code).status, reply.headers);
      res.end(json);
      return;
    }
    case 'body':
      reply.headers['content-length'] = String(reply.body.length);
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body);
      return;
    case 'stream':
      pipeSse(reply.stream, reply.status, reply.headers, res);
      return;
    case 'client_gone':
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(499);
        res.end();
      }
      return;
  }
}
