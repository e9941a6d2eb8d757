/**
 * An admitted SSE answer on its way to the client, event by event as it arrives (with
 * back-pressure), through the usage filter. It owns the request's Settlement from the moment it
 * is attached: `settled` with the stream's usage at the upstream's end (one output token per
 * event delivered when it sent none), `cut` (input estimate + output delivered) when the upstream
 * fails mid-stream (after an OpenAI-shaped `error` event) or the client goes away first.
 */
import type { ServerResponse } from 'node:http';
import { errorBody } from '../../src/errors/keygate-error.js';
import type { Readable } from 'node:stream';
import type { Settlement } from '../settlement.js';
import type { PlainHeaders } from './headers.js';
import type { SseUsageFilter } from './sse-usage-filter.js';

export interface SsePassThrough {
  source: Readable;
  filter: SseUsageFilter;
  settlement: Settlement;
}

/** Written straight to a node:http response (the served hot path). */
export function pipeSse(
  pass: SsePassThrough,
  status: number,
  headers: PlainHeaders,
  res: ServerResponse,
): void {
  const { source, filter, settlement } = pass;
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
    settlement.settled(filter.usage, filter.deliveredEvents);
  });
  source.on('error', (error) => {
    // Upstream cut or timed out mid-stream: the client gets an OpenAI-shaped error event (its
    // SDK raises an APIError) instead of a bare reset; what it already received is charged.
    settlement.cut(deliveredTokens(filter));
    if (res.destroyed || res.writableEnded) return;
    res.end(sseErrorEvent(error));
  });
  res.on('close', () => {
    if (res.writableFinished) return;
    source.destroy();
    settlement.cut(deliveredTokens(filter));
  });
  settlement.streamTakesOver();
}

/** As a Web stream (Hono's Response path). */
export function sseWebStream(pass: SsePassThrough): ReadableStream<Uint8Array> {
  const { source, filter, settlement } = pass;
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Loop until something can be sent: a pull that enqueues nothing is not called again.
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await iterator.next();
        } catch (error) {
          // Upstream cut or timed out mid-stream: an error event, and what was delivered is charged.
          settlement.cut(deliveredTokens(filter));
          controller.enqueue(sseErrorEvent(error));
          controller.close();
          return;
        }
        if (next.done === true) {
          const tail = filter.end();
          if (tail !== undefined) controller.enqueue(tail);
          controller.close();
          settlement.settled(filter.usage, filter.deliveredEvents);
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
      settlement.cut(deliveredTokens(filter));
    },
  });
  settlement.streamTakesOver();
  return stream;
}

/** Output tokens already delivered: the stream's own usage if it sent one, else one per event. */
function deliveredTokens(filter: SseUsageFilter): number {
  return filter.usage?.outputTokens ?? filter.deliveredEvents;
}

/** The OpenAI-shaped error event a cut stream ends with (`event: error`, `data: {"error":…}`). */
export function sseErrorEvent(error: unknown): Buffer {
  const code = (error as { code?: unknown } | null)?.code;
  const body = errorBody(code === 'UND_ERR_BODY_TIMEOUT' ? 'upstream_timeout' : 'upstream_error', {
    message: 'The upstream model API failed in the middle of the stream; the answer is incomplete.',
  });
  return Buffer.from(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
}
