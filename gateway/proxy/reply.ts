/**
 * The proxy's answer (a refusal, an upstream body or stream, or nothing when the client left),
 * rendered by whichever side served the request: straight to node:http's response on the hot
 * path, or as a Web Response for Hono.
 */
import type { ServerResponse } from 'node:http';
import { errorBody } from '../../src/errors/keygate-error.js';
import { errorSpec, type ErrorCode } from '../../src/errors/registry.js';
import type { RateLimitHeaders } from '../../src/policy/admission.js';
import { pipeSse, sseWebStream, type ForwardResult } from './forward.js';

/** The proxy's answer, rendered by whichever side served the request. */
export type Reply =
  | {
      kind: 'refuse';
      code: ErrorCode;
      requestId: string;
      param: string | null;
      extra: Record<string, string> | undefined;
    }
  | Extract<ForwardResult, { kind: 'body' | 'stream' | 'client_gone' }>;

export function refusalHeaders(
  requestId: string,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
  if (extra !== undefined) for (const name in extra) headers[name] = extra[name]!;
  return headers;
}

function refusalResponse(
  code: ErrorCode,
  requestId: string,
  param: string | null,
  extra: Record<string, string> | undefined,
): Response {
  return new Response(JSON.stringify(errorBody(code, { param })), {
    status: errorSpec(code).status,
    headers: refusalHeaders(requestId, extra),
  });
}

/** A Reply as a Web Response (Hono's side). */
export function replyResponse(reply: Reply): Response {
  switch (reply.kind) {
    case 'refuse':
      return refusalResponse(reply.code, reply.requestId, reply.param, reply.extra);
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
    case 'refuse':
      res.writeHead(errorSpec(reply.code).status, refusalHeaders(reply.requestId, reply.extra));
      res.end(JSON.stringify(errorBody(reply.code, { param: reply.param })));
      return;
    case 'body':
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
