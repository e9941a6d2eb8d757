import { describe, expect, it } from 'vitest';
import { SSE_MAX_EVENT_BYTES, SseUsageFilter } from '../../../gateway/proxy/sse-usage-filter.js';

const content = (i: number) =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"t${i}"}}],"usage":null}\n\n`;
const usageChunk =
  'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n';
const done = 'data: [DONE]\n\n';

function run(filter: SseUsageFilter, pieces: string[]): string {
  let out = '';
  for (const piece of pieces) out += filter.push(Buffer.from(piece))?.toString() ?? '';
  out += filter.end()?.toString() ?? '';
  return out;
}

describe('SseUsageFilter', () => {
  it('reads the usage chunk and removes it when the client did not ask for usage', () => {
    const filter = new SseUsageFilter(true);
    const out = run(filter, [content(0), content(1), usageChunk, done]);
    expect(out).toBe(content(0) + content(1) + done);
    expect(filter.usage).toEqual({ inputTokens: 7, outputTokens: 3 });
  });

  it('keeps the usage chunk when the client asked for it', () => {
    const filter = new SseUsageFilter(false);
    const out = run(filter, [content(0), usageChunk, done]);
    expect(out).toBe(content(0) + usageChunk + done);
    expect(filter.usage).toEqual({ inputTokens: 7, outputTokens: 3 });
  });

  it('events split across arbitrary chunk boundaries come out whole and in order', () => {
    const whole = content(0) + content(1) + usageChunk + done;
    for (const size of [1, 3, 7, 50]) {
      const pieces: string[] = [];
      for (let i = 0; i < whole.length; i += size) pieces.push(whole.slice(i, i + size));
      const filter = new SseUsageFilter(true);
      expect(run(filter, pieces)).toBe(content(0) + content(1) + done);
      expect(filter.usage).toEqual({ inputTokens: 7, outputTokens: 3 });
    }
  });

  it('a complete event goes out as soon as its blank line arrives (no buffering to the end)', () => {
    const filter = new SseUsageFilter(true);
    expect(filter.push(Buffer.from(content(0)))?.toString()).toBe(content(0));
    expect(filter.push(Buffer.from('data: {"partial"'))).toBeUndefined();
  });

  it('reads Responses API usage from response.completed without dropping it', () => {
    const completed =
      'event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":4,"output_tokens":2}}}\n\n';
    const filter = new SseUsageFilter(true);
    expect(run(filter, [completed])).toBe(completed);
    expect(filter.usage).toEqual({ inputTokens: 4, outputTokens: 2 });
  });

  it('handles CRLF event separators', () => {
    const filter = new SseUsageFilter(true);
    const crlf = usageChunk.replace('\n\n', '\r\n\r\n');
    expect(run(filter, ['data: {"choices":[{"delta":{}}]}\r\n\r\n', crlf])).toBe(
      'data: {"choices":[{"delta":{}}]}\r\n\r\n',
    );
    expect(filter.usage?.inputTokens).toBe(7);
  });

  it('CRLF separators split across chunks, one byte at a time, after a held event', () => {
    const whole = (content(0) + content(1) + usageChunk + done).replaceAll('\n\n', '\r\n\r\n');
    const filter = new SseUsageFilter(true);
    const out = run(filter, whole.split(''));
    expect(out).toBe((content(0) + content(1) + done).replaceAll('\n\n', '\r\n\r\n'));
    expect(filter.usage).toEqual({ inputTokens: 7, outputTokens: 3 });
  });

  it('an event past SSE_MAX_EVENT_BYTES goes out unparsed as it arrives; the events after it are read', () => {
    const filter = new SseUsageFilter(true);
    const piece = Buffer.alloc(256 * 1024, 'a');
    let out = filter.push(Buffer.from('data: {"x":"'))?.length ?? 0;
    let sent = 12;
    while (sent <= SSE_MAX_EVENT_BYTES) {
      out += filter.push(piece)?.length ?? 0;
      sent += piece.length;
    }
    // Past the bound, everything held so far has gone out, and later pieces go out at once.
    expect(out).toBe(sent);
    expect(filter.push(piece)?.length).toBe(piece.length);
    // Its end (the separator split across chunks) and a usage event in the same chunk.
    expect(filter.push(Buffer.from('"}\n'))?.toString()).toBe('"}\n');
    expect(filter.push(Buffer.from(`\n${usageChunk}${done}`))?.toString()).toBe(`\n${done}`);
    expect(filter.usage).toEqual({ inputTokens: 7, outputTokens: 3 });
    expect(filter.end()).toBeUndefined();
  });
});
