/** Proxying over real sockets: gateway (in-process server) → mock upstream. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { targetRoute } from '../../helpers/gateway-fixtures.js';
import { eventually } from '../../helpers/eventually.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

let h: Harness;
/**
 * An OpenAI-compatible upstream that reports no usage: three content events (ignoring
 * stream_options), or without `stream` a JSON answer of 13 characters of text.
 */
const noUsage = createServer((req, res) => {
  let text = '';
  req.on('data', (chunk: Buffer) => (text += chunk.toString()));
  req.on('end', () => {
    if ((JSON.parse(text) as { stream?: boolean }).stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const message = { role: 'assistant', content: 'one two three' };
      res.end(JSON.stringify({ object: 'chat.completion', choices: [{ index: 0, message }] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (content: string) =>
      `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] })}\n\n`;
    res.end(`${event('one ')}${event('two ')}${event('three')}data: [DONE]\n\n`);
  });
});
beforeAll(async () => {
  await new Promise<void>((resolve) => noUsage.listen(0, '127.0.0.1', resolve));
  const port = (noUsage.address() as AddressInfo).port;
  h = await startHarness({
    upstreamTimeoutMs: 300,
    extraTargets: [
      targetRoute('closed-port', 'http://127.0.0.1:1/v1'),
      targetRoute('no-usage', `http://127.0.0.1:${port}/v1`),
    ],
  });
});
afterAll(async () => {
  await h.close();
  noUsage.close();
});

const post = (path: string, key: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });

const until = (check: () => boolean, timeoutMs = 2000): Promise<void> => eventually(check, { timeoutMs });

describe('gateway proxy', () => {
  it('renames the model, adds the provider credential and never forwards the keygate key', async () => {
    const key = h.newKey();
    const response = await post(
      '/v1/chat/completions',
      key,
      { model: 'gpt-test', messages: [{ role: 'user', content: 'hello world!' }] },
      {
        'x-api-key': key,
        cookie: 'session=1',
        'x-custom': 'kept',
      },
    );
    expect(response.status).toBe(200);
    const last = h.mock.last()!;
    expect(last.path).toBe('/v1/chat/completions');
    expect((last.body as { model: string }).model).toBe('mock-model');
    expect(last.headers.authorization).toBe('Bearer sk-provider-secret');
    expect(last.headers['x-api-key']).toBeUndefined();
    expect(last.headers.cookie).toBeUndefined();
    expect(last.headers['x-custom']).toBe('kept');
    expect(JSON.stringify(last.headers)).not.toContain(key);
    expect(last.headers['x-request-id']).toBe(response.headers.get('x-request-id'));
  });

  it('a target without upstream model or credential gets the body byte for byte and no authorization', async () => {
    const key = h.newKey();
    const body = { model: 'plain', prompt: 'abcd', max_tokens: 3 };
    expect((await post('/v1/completions', key, body)).status).toBe(200);
    expect(h.mock.last()!.body).toEqual(body);
    expect(h.mock.last()!.headers.authorization).toBeUndefined();
  });

  it('only the target origin and base path are contacted, whatever path, query or Host the client sends', async () => {
    const key = h.newKey();
    const response = await request(`${h.url}/v1/embeddings?target=http://evil.example/x`, {
      method: 'POST',
      headers: { host: 'evil.example', authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'plain', input: 'x' }),
    });
    expect(response.statusCode).toBe(200);
    await response.body.text();
    expect(h.mock.last()!.path).toBe('/v1/embeddings');
    expect(h.mock.last()!.headers.host).toBe(new URL(h.mock.url).host);
  });

  it('records usage from a non-streamed answer, priced with the target pricing', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    const response = await post('/v1/chat/completions', key, {
      model: 'plain',
      messages: [{ role: 'user', content: '12345678' }],
    });
    const body = (await response.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    await until(() => h.usage.length === 1);
    expect(h.usage[0]).toMatchObject({
      target: 'plain',
      inputTokens: body.usage.prompt_tokens,
      outputTokens: body.usage.completion_tokens,
    });
    // 2 input tokens at $1/Mtok + 8 output tokens at $2/Mtok = 18 micro-USD
    expect(h.usage[0]!.spendMicros).toBe(18);
  });

  it('embeddings and responses are proxied with their usage', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    expect((await post('/v1/embeddings', key, { model: 'plain', input: 'abcdefgh' })).status).toBe(200);
    expect((await post('/v1/responses', key, { model: 'plain', input: 'abcd' })).status).toBe(200);
    await until(() => h.usage.length === 2);
    expect(h.usage.map((u) => [u.inputTokens, u.outputTokens])).toEqual([
      [2, 0],
      [1, 8],
    ]);
  });

  it('streaming: the first chunk reaches the client before the upstream has sent its last one', async () => {
    const key = h.newKey();
    const response = await post(
      '/v1/chat/completions',
      key,
      { model: 'plain', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      { 'x-mock-chunks': '5', 'x-mock-chunk-delay-ms': '150' },
    );
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const completedBefore = h.mock.stats().completed;
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('tok0');
    // The upstream is still streaming (4 more chunks at 150 ms each) when the first byte is here.
    expect(h.mock.stats().completed).toBe(completedBefore);
    let rest = '';
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      rest += new TextDecoder().decode(next.value);
    }
    expect(rest).toContain('tok4');
    expect(rest).toContain('[DONE]');
  });

  it('streaming without include_usage: usage is recorded, the client never sees the usage chunk', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    const response = await post('/v1/chat/completions', key, {
      model: 'plain',
      stream: true,
      messages: [{ role: 'user', content: 'abcdefgh' }],
    });
    const text = await response.text();
    expect((h.mock.last()!.body as { stream_options: unknown }).stream_options).toEqual({
      include_usage: true,
    });
    expect(text).not.toContain('"usage":{');
    expect(text).not.toContain('"choices":[]');
    expect(text).toContain('data: [DONE]');
    await until(() => h.usage.length === 1);
    expect(h.usage[0]).toMatchObject({ inputTokens: 2, outputTokens: 5 });
  });

  it('streaming with include_usage: the client gets the usage chunk and usage is recorded', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    const response = await post('/v1/chat/completions', key, {
      model: 'plain',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'abcdefgh' }],
    });
    const text = await response.text();
    expect(text).toContain('"usage":{"prompt_tokens":2,"completion_tokens":5');
    await until(() => h.usage.length === 1);
    expect(h.usage[0]).toMatchObject({ inputTokens: 2, outputTokens: 5 });
  });

  it('streamed completions and responses also record usage', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    await (await post('/v1/completions', key, { model: 'plain', stream: true, prompt: 'abcd' })).text();
    await (await post('/v1/responses', key, { model: 'plain', stream: true, input: 'abcd' })).text();
    await until(() => h.usage.length === 2);
    expect(h.usage.map((u) => u.outputTokens)).toEqual([5, 5]);
  });

  it('an upstream error status passes through with its body; the reservation is released', async () => {
    const key = h.newKey();
    h.admission.calls.length = 0;
    const response = await post('/v1/chat/completions', key, { model: 'failing', messages: [] });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('mock_failure');
    expect(h.admission.calls).toEqual([{ kind: 'release' }]);
  });

  it('an upstream that does not answer in time → 504 upstream_timeout', async () => {
    const key = h.newKey();
    const response = await post('/v1/chat/completions', key, { model: 'stalling', messages: [] });
    expect(response.status).toBe(504);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');
  });

  it('an upstream that refuses connections → 502 upstream_error', async () => {
    const key = h.newKey();
    const response = await post('/v1/chat/completions', key, { model: 'closed-port', messages: [] });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
  });

  it('a client that disconnects mid-stream aborts the upstream request and ends the admission with what it received', async () => {
    const key = h.newKey();
    h.admission.calls.length = 0;
    const abortedBefore = h.mock.stats().aborted;
    const response = await post(
      '/v1/chat/completions',
      key,
      { model: 'plain', stream: true, messages: [] },
      { 'x-mock-chunks': '50', 'x-mock-chunk-delay-ms': '100' },
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await until(() => h.mock.stats().aborted === abortedBefore + 1);
    await until(() => h.admission.calls.length === 1);
    expect(h.admission.calls[0]).toMatchObject({ kind: 'settle', usage: { inputTokens: 0 } });
    expect(h.admission.calls[0]!.usage!.outputTokens).toBeGreaterThanOrEqual(1);
  });

  it('a client that leaves after the last content event, before the usage event, is charged the output it got', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    const response = await post(
      '/v1/chat/completions',
      key,
      { model: 'plain', stream: true, messages: [{ role: 'user', content: 'abcdefgh' }] },
      { 'x-mock-chunks': '5', 'x-mock-chunk-delay-ms': '150' },
    );
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('tok4')) {
      const next = await reader.read();
      if (next.done) break;
      text += new TextDecoder().decode(next.value);
    }
    await reader.cancel(); // the usage event is still 150 ms away
    expect(text).not.toContain('[DONE]');
    await until(() => h.usage.length === 1);
    expect(h.usage[0]).toMatchObject({ inputTokens: 2, outputTokens: 5 });
  });

  it('a stream that ends without usage (an upstream ignoring stream_options) is charged one output token per event', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    const response = await post('/v1/chat/completions', key, {
      model: 'no-usage',
      stream: true,
      messages: [{ role: 'user', content: 'abcdefgh' }],
    });
    expect(await response.text()).toContain('data: [DONE]');
    await until(() => h.usage.length === 1);
    expect(h.usage[0]).toMatchObject({ inputTokens: 2, outputTokens: 3 });
  });

  it('an answer without usage is charged ceil(characters / 4) of its generated text (its output is not free)', async () => {
    const key = h.newKey();
    h.usage.length = 0;
    const response = await post('/v1/chat/completions', key, {
      model: 'no-usage',
      messages: [{ role: 'user', content: 'abcdefgh' }],
    });
    const answer = (await response.json()) as { choices: { message: { content: string } }[] };
    expect(answer.choices[0]!.message.content).toBe('one two three');
    await until(() => h.usage.length === 1);
    expect(h.usage[0]).toMatchObject({ inputTokens: 2, outputTokens: 4 });
  });

  it('a client that disconnects while waiting for a non-streamed answer aborts the upstream request and the admission', async () => {
    // Its own gateway with a 10 s upstream timeout, so only the client's disconnect can end the
    // upstream request within the 2 s `until` allows.
    const g = await startHarness({ upstreamTimeoutMs: 10_000 });
    try {
      const key = g.newKey();
      const controller = new AbortController();
      const client = fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'stalling', messages: [] }),
        signal: controller.signal,
      }).catch((error: unknown) => error);
      await until(() => g.mock.stats().requests === 1);
      controller.abort();
      expect(await client).toBeInstanceOf(Error);
      await until(() => g.mock.stats().aborted === 1);
      await until(() => g.admission.calls.length > 0);
      expect(g.admission.calls).toEqual([{ kind: 'abort' }]);
    } finally {
      await g.close();
    }
  });

  it('a pushed invalidation needs a valid internal token, then evicts the key at once', async () => {
    const key = h.newKey();
    expect((await post('/v1/embeddings', key, { model: 'plain', input: 'x' })).status).toBe(200);
    const { hashSecret } = await import('../../../src/keys/secret.js');
    const hash = hashSecret(key);
    const policy = h.source.policies.get(hash)!;
    h.source.policies.set(hash, { ...policy, status: 'revoked' });
    // The revocation is newer (seq 2) than the cached snapshot (version 1).
    const change = {
      seq: 2,
      at: Date.now(),
      entityType: 'key' as const,
      entityId: policy.keyId,
      tokenHashes: [hash],
    };
    h.feedLog.push(change);
    const batch = { seq: 2, changes: [change] };
    const unsigned = await fetch(`${h.url}/internal/invalidate`, {
      method: 'POST',
      body: JSON.stringify(batch),
    });
    expect(unsigned.status).toBe(401);
    expect((await post('/v1/embeddings', key, { model: 'plain', input: 'x' })).status).toBe(200);
    const signed = await fetch(`${h.url}/internal/invalidate`, {
      method: 'POST',
      headers: { authorization: await h.internalAuth(), 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(signed.status).toBe(204);
    expect((await post('/v1/embeddings', key, { model: 'plain', input: 'x' })).status).toBe(401);
  });
});
