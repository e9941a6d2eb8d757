/**
 * The output-token estimate a request reserves before the upstream call: an upper bound of what
 * the upstream may bill, for every completion it is asked for.
 */
import { describe, expect, it } from 'vitest';
import { estimateInputTokens, maxOutputTokens } from '../../../gateway/proxy/request-estimate.js';

describe('maxOutputTokens', () => {
  it('counts max_tokens once per completion asked for (n, or best_of of /v1/completions)', () => {
    expect(maxOutputTokens({ max_tokens: 100 }, 1024)).toBe(100);
    expect(maxOutputTokens({ max_tokens: 100, n: 8 }, 1024)).toBe(800);
    expect(maxOutputTokens({ max_completion_tokens: 50, n: 3 }, 1024)).toBe(150);
    expect(maxOutputTokens({ max_tokens: 10, n: 2, best_of: 5 }, 1024)).toBe(50);
    expect(maxOutputTokens({ n: 4 }, 1024)).toBe(4096);
  });

  it('the product stays a whole number within the cap, whatever n says', () => {
    expect(maxOutputTokens({ max_tokens: 4096, n: 128 }, 1024, 131_072)).toBe(131_072);
    expect(maxOutputTokens({ max_tokens: 1e308, n: 1e308 }, 1024, 131_072)).toBe(131_072);
    for (const n of [0, -3, 2.5, Number.NaN, '8', null, 1e300])
      expect(maxOutputTokens({ max_tokens: 100, n }, 1024, 131_072)).toBe(100);
  });

  it('several maximum fields: the largest counts (upstreams differ in which one they obey)', () => {
    // vLLM obeys max_completion_tokens over max_tokens; a Responses upstream obeys max_output_tokens.
    expect(maxOutputTokens({ max_tokens: 1, max_completion_tokens: 4000 }, 1024)).toBe(4000);
    expect(maxOutputTokens({ max_tokens: 1, max_output_tokens: 3000 }, 1024)).toBe(3000);
    expect(maxOutputTokens({ max_tokens: 500, max_completion_tokens: 20, n: 2 }, 1024)).toBe(1000);
    expect(maxOutputTokens({ max_tokens: -1, max_completion_tokens: 70 }, 1024)).toBe(70);
    expect(maxOutputTokens({ max_tokens: 1, max_completion_tokens: 1e308 }, 1024, 131_072)).toBe(131_072);
  });
});

describe('estimateInputTokens', () => {
  it('counts what the upstream bills as input besides message text: tools, functions, tool calls', () => {
    const description = 'x'.repeat(40_000);
    const tools = [{ type: 'function', function: { name: 'f', description, parameters: {} } }];
    const messages = [{ role: 'user', content: 'hi' }];
    // 40 KB of tool definitions is ~10,000 tokens of prompt, not 1.
    expect(estimateInputTokens({ messages, tools })).toBeGreaterThanOrEqual(10_000);
    expect(estimateInputTokens({ messages, functions: [{ name: 'f', description }] })).toBeGreaterThanOrEqual(
      10_000,
    );
    const call = { id: 'c', type: 'function', function: { name: 'f', arguments: description } };
    expect(
      estimateInputTokens({ messages: [{ role: 'assistant', content: null, tool_calls: [call] }] }),
    ).toBeGreaterThanOrEqual(10_000);
    expect(estimateInputTokens({ input: 'hi', instructions: description })).toBeGreaterThanOrEqual(10_000);
  });
});
