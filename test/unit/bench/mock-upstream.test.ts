/** The mock upstream behaves like an OpenAI-compatible API, fails and stalls on demand. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../../../bench/mock-upstream.js';

let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockUpstream({ chunks: 3 });
});
afterAll(() => mock.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal,
  });

describe('mock upstream', () => {
  it('answers chat with usage derived from the prompt (characters / 4) and records the request', async () => {
    const response = await post(
      '/v1/chat/completions',
      { model: 'm', messages: [{ role: 'user', content: '12345678' }] },
      { 'x-t': '1' },
    );
    const body = (await response.json()) as any;
    expect(body.object).toBe('chat.completion');
    expect(body.usage).toEqual({ prompt_tokens: 2, completion_tokens: 8, total_tokens: 10 });
    expect(mock.last()).toMatchObject({
      path: '/v1/chat/completions',
      headers: { 'x-t': '1' },
      body: { model: 'm' },
    });
    const last = (await (await fetch(`${mock.url}/__last`)).json()) as any;
    expect(last.body.model).toBe('m');
  });

  it('answers completions, embeddings and responses under any path prefix', async () => {
    expect(
      ((await (await post('/openai/v1/completions', { model: 'm', prompt: 'abcd' })).json()) as any).object,
    ).toBe('text_completion');
    expect(
      ((await (await post('/v1/embeddings', { model: 'm', input: 'abcd' })).json()) as any).usage
        .prompt_tokens,
    ).toBe(1);
    expect(
      ((await (await post('/v1/responses', { model: 'm', input: 'abcd' })).json()) as any).usage,
    ).toMatchObject({ input_tokens: 1 });
  });

  it('streams the configured chunk count; the usage chunk only with include_usage', async () => {
    const without = await (
      await post('/v1/chat/completions', { model: 'm', stream: true, messages: [] })
    ).text();
    expect(without.match(/tok\d/g)).toEqual(['tok0', 'tok1', 'tok2']);
    expect(without).not.toContain('"choices":[]');
    expect(without.endsWith('data: [DONE]\n\n')).toBe(true);
    const withUsage = await (
      await post(
        '/v1/chat/completions',
        { model: 'm', stream: true, stream_options: { include_usage: true }, messages: [] },
        { 'x-mock-chunks': '2' },
      )
    ).text();
    expect(withUsage.match(/tok\d/g)).toEqual(['tok0', 'tok1']);
    expect(withUsage).toContain('"choices":[],"usage":{"prompt_tokens":0,"completion_tokens":2');
  });

  it('fails with the status named by the model, and stalls on mock-stall until the client leaves', async () => {
    const failed = await post('/v1/chat/completions', { model: 'mock-fail-429', messages: [] });
    expect(failed.status).toBe(429);
    expect(((await failed.json()) as any).error.code).toBe('mock_failure');
    const aborted = mock.stats().aborted;
    await expect(
      post('/v1/chat/completions', { model: 'mock-stall' }, {}, AbortSignal.timeout(100)),
    ).rejects.toThrow();
    for (let i = 0; i < 100 && mock.stats().aborted === aborted; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(mock.stats().aborted).toBe(aborted + 1);
  });

  it('the control endpoint changes the defaults', async () => {
    await post('/__control', { failStatus: 500 });
    expect((await post('/v1/embeddings', { model: 'm', input: 'x' })).status).toBe(500);
    await post('/__control', { failStatus: null });
    expect((await post('/v1/embeddings', { model: 'm', input: 'x' })).status).toBe(200);
  });
});
