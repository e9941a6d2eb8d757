/**
 * The request as the gateway's proxy logic sees it, whichever way it was served: node:http's own
 * request on the served hot path (no Web objects), or Hono's context (app.request in tests, or
 * the app served alone by @hono/node-server). Also the client-disconnect signals of both.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { ClientSignal } from './upstream-client.js';

export type GatewayEnv = { Bindings: Partial<HttpBindings> };

/** The request as the proxy logic sees it, whichever way it was served. */
export interface ProxyRequest {
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  /** Every header the client sent; the allow-list (headers.ts) picks what reaches the upstream. */
  readonly forwardHeaders: IncomingHttpHeaders | Headers;
  /** The body, unless it is larger than `max` bytes or the client left while sending it. */
  body(hasLength: boolean, max: number): Promise<BodyRead>;
  signal(): ClientSignal | undefined;
  /** The socket's peer address (keys the failed-authentication throttle); `unknown` without one. */
  readonly clientAddress: string;
}

export type BodyRead = { kind: 'read'; bytes: Buffer } | { kind: 'too_large' } | { kind: 'gone' };

const TOO_LARGE: BodyRead = { kind: 'too_large' };
const GONE: BodyRead = { kind: 'gone' };

/** node:http's view of a request (the served hot path): Node's own header object, no Web objects. */
export class NodeProxyRequest implements ProxyRequest {
  private readonly closed: ResponseCloseSignal;

  constructor(
    private readonly req: IncomingMessage,
    res: ServerResponse,
  ) {
    this.closed = new ResponseCloseSignal(res);
  }

  header(name: string): string | undefined {
    const value = this.req.headers[name];
    return typeof value === 'string' ? value : value?.[0];
  }

  get forwardHeaders(): IncomingHttpHeaders {
    return this.req.headers;
  }

  get clientAddress(): string {
    return this.req.socket.remoteAddress ?? 'unknown';
  }

  body(_hasLength: boolean, max: number): Promise<BodyRead> {
    const req = this.req;
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > max) {
          done = true;
          req.off('data', onData);
          req.resume();
          resolve(TOO_LARGE);
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => {
        if (done) return;
        done = true;
        resolve({ kind: 'read', bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
      });
      req.once('close', () => {
        if (done) return;
        done = true;
        resolve(GONE);
      });
      req.once('error', () => {
        if (done) return;
        done = true;
        resolve(GONE);
      });
    });
  }

  signal(): ClientSignal {
    return this.closed;
  }
}

/** Hono's view (app.request in tests, or the app served on its own by @hono/node-server). */
export class WebProxyRequest implements ProxyRequest {
  constructor(private readonly c: Context<GatewayEnv>) {}

  header(name: string): string | undefined {
    return this.c.req.header(name);
  }

  get forwardHeaders(): IncomingHttpHeaders | Headers {
    return this.c.env?.incoming?.headers ?? this.c.req.raw.headers;
  }

  get clientAddress(): string {
    return this.c.env?.incoming?.socket.remoteAddress ?? 'unknown';
  }

  async body(hasLength: boolean, max: number): Promise<BodyRead> {
    let bytes: Buffer | undefined;
    try {
      bytes = await readBody(this.c.req.raw, hasLength, max);
    } catch {
      // The client left while sending its body (as NodeProxyRequest: not an internal error).
      return GONE;
    }
    return bytes === undefined ? TOO_LARGE : { kind: 'read', bytes };
  }

  signal(): ClientSignal | undefined {
    const outgoing = this.c.env?.outgoing;
    return outgoing === undefined
      ? new AbortSignalAdapter(this.c.req.raw.signal)
      : new ResponseCloseSignal(outgoing);
  }
}

/**
 * Fires when the client disconnects before its answer is complete (the response's `close`
 * before it finished): one listener, no AbortController. A pipelined request's response waits in
 * Node's queue without a socket and gets no `close` when the connection goes away, so the
 * connection's own `close` counts too (listened to only while the response is not done).
 */
export class ResponseCloseSignal implements ClientSignal {
  aborted = false;
  private onAbort: (() => void) | undefined;

  constructor(outgoing: ServerResponse) {
    const fire = (): void => {
      if (this.aborted || outgoing.writableFinished) return;
      this.aborted = true;
      this.onAbort?.();
    };
    const socket = outgoing.req.socket;
    if (socket !== null && socket !== undefined && outgoing.socket !== socket) {
      // Queued behind an earlier response on this connection (pipelining).
      socket.once('close', fire);
      outgoing.once('close', () => socket.off('close', fire));
    }
    outgoing.once('close', fire);
  }

  listen(onAbort: () => void): void {
    this.onAbort = onAbort;
  }
}

/** A Web Request's signal (app.request). */
export class AbortSignalAdapter implements ClientSignal {
  constructor(private readonly signal: AbortSignal) {}

  get aborted(): boolean {
    return this.signal.aborted;
  }

  listen(onAbort: () => void): void {
    this.signal.addEventListener('abort', onAbort, { once: true });
  }
}

/** The body as a Buffer, or undefined when it is larger than `max` (chunked bodies are counted). */
export async function readBody(
  request: Request,
  hasLength: boolean,
  max: number,
): Promise<Buffer | undefined> {
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
