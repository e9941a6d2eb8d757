/**
 * The gateway as a client sees it, with real processes (admin plane, gateway, mock upstream):
 * the official `openai` npm client, streaming, usage persisted by the admin plane for streamed
 * requests whether or not the client asked, and a flood of made-up keys that never reaches the
 * admin plane.
 */
import OpenAI from 'openai';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msUntil, seed, startSeededStack, type Stack } from '../helpers/e2e-stack.js';

let stack: Stack;
let data: Awaited<ReturnType<typeof seed>>;
beforeAll(async () => {
  // One test here sends 10,000 made-up keys from one address to show they cost no admin lookup;
  // the failed-authentication throttle (its own tests) would answer 429 after 100 of them, so it
  // is off in this file.
  ({ stack, data } = await startSeededStack(
    { push: true, gatewayEnv: { KEYGATE_AUTH_FAILURE_POINTS: '0' } },
    'px',
  ));
}, 60_000);
afterAll(() => stack?.stop());

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('gateway end to end', () => {
  it('the official openai client works against the gateway (baseURL + keygate key)', async () => {
    const { secret } = await data.createKey();
    const client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: secret, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: data.target.name,
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    expect(completion.choices[0]?.message.content).toBe('mock answer');
    expect(completion.usage?.completion_tokens).toBe(8);

    const stream = await client.chat.completions.create({
      model: data.target.name,
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('tok0 tok1 tok2 tok3 tok4 ');

    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual([data.other.name, data.target.name].sort());

    const embedding = await client.embeddings.create({ model: data.target.name, input: 'hello' });
    expect(embedding.data[0]?.embedding).toEqual([0.5, 0.25, 0.125]);

    const bad = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: 'kg_nope', maxRetries: 0 });
    await expect(
      bad.chat.completions.create({ model: data.target.name, messages: [] }),
    ).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
  });

  it('streaming: the first chunk arrives through the gateway long before the upstream finishes', async () => {
    const { secret } = await data.createKey();
    const started = Date.now();
    const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        'x-mock-chunks': '5',
        'x-mock-chunk-delay-ms': '250',
      },
      body: JSON.stringify({ model: data.target.name, stream: true, messages: [] }),
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(new TextDecoder().decode(first.value)).toContain('tok0');
    while (!(await reader.read()).done);
    const doneAt = Date.now() - started;
    // The upstream needs 4 × 250 ms after its first chunk; the first byte must not wait for them.
    expect(doneAt).toBeGreaterThanOrEqual(1000);
    expect(firstAt).toBeLessThan(doneAt - 700);
  });

  it('streamed usage is recorded and persisted by the admin plane whether or not the client asked', async () => {
    for (const includeUsage of [false, true]) {
      const { key, secret } = await data.createKey();
      const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: data.target.name,
          stream: true,
          ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
          messages: [{ role: 'user', content: 'x'.repeat(4000) }],
        }),
      });
      const text = await response.text();
      expect(text.includes('"choices":[]')).toBe(includeUsage);
      // 1000 input tokens at $1/Mtok + 5 output tokens at $2/Mtok = 1010 micro-USD
      await msUntil(
        Date.now(),
        () =>
          fetch(`${stack.adminUrl}/v1/keys/${key.id}`, {
            headers: { authorization: `Bearer ${'e2e-master-key-0123456789abcdef'}` },
          }),
        (_status, body) => body.last_used_at !== null && body.spend > 0,
        5000,
      );
      const view = (await stack.api('GET', `/v1/keys/${key.id}`)).body;
      expect(view.spend).toBeCloseTo(0.00101, 8);
    }
  });

  it('10,000 requests with random well-formed-looking keys make zero admin lookups; a warm key stays cached', async () => {
    const { secret } = await data.createKey();
    const pool = new Pool(stack.gatewayUrl, { connections: 8 });
    const call = async (key: string) => {
      const response = await pool.request({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: data.target.name, messages: [] }),
      });
      await response.body.text();
      return response.statusCode;
    };
    try {
      expect(await call(secret)).toBe(200);
      const loads = await metric('keygate_gateway_key_cache_loads_total');
      const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
      const randomKey = () => {
        let key = 'kg_';
        for (let j = 0; j < 46; j++) key += alphabet[Math.floor(Math.random() * 62)];
        return key;
      };
      let statuses = new Set<number>();
      for (let batch = 0; batch < 100; batch++) {
        const results = await Promise.all(Array.from({ length: 100 }, () => call(randomKey())));
        statuses = new Set([...statuses, ...results]);
      }
      expect([...statuses]).toEqual([401]);
      expect(await metric('keygate_gateway_key_cache_loads_total')).toBe(loads);
      expect(await call(secret)).toBe(200);
      expect(await metric('keygate_gateway_key_cache_loads_total')).toBe(loads);
    } finally {
      await pool.close();
    }
  });

  it('/readyz reports the admin reachable and the change-feed position', async () => {
    const response = await fetch(`${stack.gatewayUrl}/readyz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as any;
    expect(body).toMatchObject({ ready: true, adminReachable: true });
    expect(body.changeFeed.lastSeq).toBeGreaterThan(0);
  });
});
