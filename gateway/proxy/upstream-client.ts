/**
 * The pooled keep-alive HTTP client to upstream model APIs (undici Agent: one pool per origin;
 * not global fetch, several times slower here, see research/anchors_perf.md §4.3).
 *
 * Requests go through `agent.dispatch` with a small handler of our own rather than
 * `agent.request`: a JSON answer is collected straight into one Buffer (no Readable body, no
 * async resource, no promise per chunk), and only an SSE answer gets a Readable, fed with
 * back-pressure. This is the gateway's hot path (issue 3).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { Agent, errors, type Dispatcher } from 'undici';
import type { PreparedTarget } from '../target-catalog.js';

export interface UpstreamClientOptions {
  /** Time to first byte: until the response headers (and the idle default below). */
  timeoutMs: number;
  /** TCP/TLS connect (default min(10 s, timeoutMs)). */
  connectTimeoutMs?: number;
  /** Longest silence between two body chunks (default timeoutMs). */
  idleTimeoutMs?: number;
  /** A non-SSE answer past this many bytes is cut (ResponseTooLargeError); default unlimited. */
  maxResponseBytes?: number;
  connectionsPerOrigin?: number;
}

/** A non-streaming answer grew past `maxResponseBytes` (502 upstream_response_too_large). */
export class ResponseTooLargeError extends Error {
  readonly code = 'KEYGATE_RESPONSE_TOO_LARGE';
  constructor(limit: number) {
    super(`the upstream answer exceeded ${limit} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** Fires once when the client goes away before its answer is complete. */
export interface ClientSignal {
  readonly aborted: boolean;
  /** Registers the (single) abort callback. */
  listen(onAbort: () => void): void;
}

/** The upstream's answer: the whole body, or (SSE with a status below 400) a stream of it. */
export type UpstreamAnswer =
  | { statusCode: number; headers: IncomingHttpHeaders; body: Buffer; stream: undefined }
  | { statusCode: number; headers: IncomingHttpHeaders; body: undefined; stream: Readable };

export class UpstreamClient {
  private readonly agent: Agent;
  private readonly maxResponseBytes: number;

  constructor(options: UpstreamClientOptions) {
    this.agent = new Agent({
      connections: options.connectionsPerOrigin ?? 256,
      keepAliveTimeout: 30_000,
      connectTimeout: options.connectTimeoutMs ?? Math.min(10_000, options.timeoutMs),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.idleTimeoutMs ?? options.timeoutMs,
    });
    this.maxResponseBytes = options.maxResponseBytes ?? Number.POSITIVE_INFINITY;
  }

  /** POST `target base path + suffix` on the target's own origin, whatever the client sent. */
  post(
    target: PreparedTarget,
    suffix: string,
    headers: Record<string, string | string[]>,
    body: Buffer | string,
    signal: ClientSignal | undefined,
  ): Promise<UpstreamAnswer> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(new errors.RequestAbortedError());
        return;
      }
      this.agent.dispatch(
        { origin: target.origin, path: target.basePath + suffix, method: 'POST', headers, body },
        new AnswerHandler(resolve, reject, signal, this.maxResponseBytes),
      );
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

const SSE = 'text/event-stream';

class AnswerHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private chunks: Buffer[] | undefined;
  private size = 0;
  private stream: Readable | undefined;
  private done = false;

  constructor(
    private readonly resolve: (answer: UpstreamAnswer) => void,
    private readonly reject: (error: Error) => void,
    private readonly signal: ClientSignal | undefined,
    private readonly maxBytes: number,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    const signal = this.signal;
    if (signal === undefined) return;
    if (signal.aborted) controller.abort(new errors.RequestAbortedError());
    else signal.listen(() => this.abort());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx: the real answer follows
    this.statusCode = statusCode;
    this.headers = headers;
    const type = headers['content-type'];
    if (statusCode < 400 && typeof type === 'string' && type.startsWith(SSE)) {
      const stream = new Readable({
        read: () => controller.resume(),
        destroy: (error, callback) => {
          this.abort();
          callback(error);
        },
      });
      this.stream = stream;
      this.resolve({ statusCode, headers, body: undefined, stream });
    } else {
      this.chunks = [];
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.stream !== undefined) {
      if (!this.stream.push(chunk)) controller.pause();
    } else if (this.chunks !== undefined && !this.done) {
      this.size += chunk.length;
      if (this.size > this.maxBytes) {
        // Bounded memory (issue 13, fault 5): drop what was collected and stop the upstream.
        this.done = true;
        this.chunks = undefined;
        controller.abort(new ResponseTooLargeError(this.maxBytes));
        this.reject(new ResponseTooLargeError(this.maxBytes));
        return;
      }
      this.chunks.push(chunk);
    }
  }

  onResponseEnd(): void {
    if (this.done && this.stream === undefined) return;
    this.done = true;
    if (this.stream !== undefined) {
      this.stream.push(null);
      return;
    }
    const chunks = this.chunks ?? [];
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size);
    this.resolve({ statusCode: this.statusCode, headers: this.headers, body, stream: undefined });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.done && this.stream === undefined) return;
    this.done = true;
    if (this.stream !== undefined) this.stream.destroy(error);
    else this.reject(error);
  }

  /** The client left (or the stream's consumer dropped it): stop the upstream request. */
  private abort(): void {
    if (this.done) return;
    this.done = true;
    const error = new errors.RequestAbortedError();
    if (this.controller !== undefined) this.controller.abort(error);
    if (this.stream === undefined) this.reject(error);
  }
}
