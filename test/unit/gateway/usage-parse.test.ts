import { describe, expect, it } from 'vitest';
import { usageOfJsonBuffer } from '../../../gateway/proxy/usage-parse.js';
import { estimateInputTokens, maxOutputTokens } from '../../../gateway/proxy/request-estimate.js';

describe('usageOfJsonBuffer', () => {
  it('reads chat, embeddings and Responses API usage', () => {
    const chat = {
      choices: [],
      usage: {
        prompt_tokens: 12,
        completion_tokens: 5,
        total_tokens: 17,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    };
    expect(usageOfJsonBuffer(Buffer.from(JSON.stringify(chat)))).toEqual({
      inputTokens: 12,
      outputTokens: 5,
    });
    const embeddings = { data: [], usage: { prompt_tokens: 9, total_tokens: 9 } };
    expect(usageOfJsonBuffer(Buffer.from(JSON.stringify(embeddings)))).toEqual({
      inputTokens: 9,
      outputTokens: 0,
    });
    const responses = { output: [], usage: { input_tokens: 3, output_tokens: 4 } };
    expect(usageOfJsonBuffer(Buffer.from(JSON.stringify(responses)))).toEqual({
      inputTokens: 3,
      outputTokens: 4,
    });
  });

  it('is not fooled by the word "usage" inside generated text', () => {
    const answer = {
      usage: { prompt_tokens: 1, completion_tokens: 2 },
      choices: [{ message: { content: 'say "usage": {"prompt_tokens": 999}' } }],
    };
    expect(usageOfJsonBuffer(Buffer.from(JSON.stringify(answer)))).toEqual({
      inputTokens: 1,
      outputTokens: 2,
    });
  });

  it('answers undefined when there is no usage or the body is not JSON', () => {
    expect(usageOfJsonBuffer(Buffer.from('{"choices":[]}'))).toBeUndefined();
    expect(usageOfJsonBuffer(Buffer.from('not json "usage": {'))).toBeUndefined();
  });
});

describe('request estimates', () => {
  it('counts prompt characters / 4 over messages, content parts, prompt and input', () => {
    expect(estimateInputTokens({ messages: [{ role: 'user', content: 'abcdefgh' }] })).toBe(2);
    expect(
      estimateInputTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'abcde' }] }] }),
    ).toBe(2);
    expect(estimateInputTokens({ prompt: ['abcd', 'efgh'] })).toBe(2);
    expect(estimateInputTokens({ input: 'abc' })).toBe(1);
    expect(estimateInputTokens({})).toBe(0);
  });

  it('the output estimate is a whole number capped at KEYGATE_MAX_OUTPUT_TOKENS (1e308 never reaches a price)', () => {
    expect(maxOutputTokens({ max_tokens: 1e308 }, 1024, 4096)).toBe(4096);
    expect(maxOutputTokens({ max_tokens: 450_000 }, 1024, 131_072)).toBe(131_072);
    expect(maxOutputTokens({ max_tokens: 10.7 }, 1024, 4096)).toBe(10);
    expect(maxOutputTokens({}, 8192, 4096)).toBe(4096);
  });

  it('max output is max_tokens, max_completion_tokens, max_output_tokens or the default', () => {
    expect(maxOutputTokens({ max_tokens: 10 }, 1024)).toBe(10);
    expect(maxOutputTokens({ max_completion_tokens: 20 }, 1024)).toBe(20);
    expect(maxOutputTokens({ max_output_tokens: 30 }, 1024)).toBe(30);
    expect(maxOutputTokens({ max_tokens: 'x' }, 1024)).toBe(1024);
  });
});
