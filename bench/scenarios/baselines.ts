/**
 * Baselines measured in the same run as the gateway: the Node ceiling (hello world), the mock
 * upstream called directly, a bare undici pass-through proxy and nginx proxy_pass. Each is
 * checked to answer 200 with a completion before it is loaded.
 */
import { loadRow, type BenchContext, type Service } from '../context.js';
import { expectAnswer, warmAndMeasure } from '../load.js';
import type { Measurement } from '../measurement.js';
import { CHAT_BODY, CHAT_PATH } from '../planes.js';
import type { Scenario } from './scenario.js';

export const isCompletion = (text: string): boolean => {
  try {
    const body = JSON.parse(text) as { object?: unknown; choices?: unknown };
    return body.object === 'chat.completion' && Array.isArray(body.choices) && body.choices.length > 0;
  } catch {
    return false;
  }
};

async function chatAgainst(
  ctx: BenchContext,
  service: Service,
  fields: Parameters<typeof loadRow>[0],
): Promise<Measurement> {
  await expectAnswer(
    fields.title,
    `${service.url}${CHAT_PATH}`,
    { method: 'POST', body: CHAT_BODY },
    {
      status: 200,
      body: isCompletion,
      bodyHint: 'a chat completion',
    },
  );
  const { connections, durationS, warmupS } = ctx.options;
  const result = await warmAndMeasure(
    {
      origin: service.url,
      path: CHAT_PATH,
      method: 'POST',
      body: CHAT_BODY,
      connections,
      durationS,
      expectedStatus: 200,
    },
    warmupS,
  );
  return loadRow(fields, connections, 200, result);
}

export const helloScenario: Scenario = {
  name: 'hello',
  description: 'raw node:http hello world: the ceiling of any Node server on this machine',
  references: [],
  rows: [{ id: 'baseline-hello', title: 'node:http hello world', kind: 'baseline' }],
  async run(ctx) {
    const hello = await ctx.hello();
    await expectAnswer(
      'hello world',
      `${hello.url}/`,
      {},
      { status: 200, body: (text) => text === '{"hello":"world"}' },
    );
    const { connections, durationS, warmupS } = ctx.options;
    const result = await warmAndMeasure(
      { origin: hello.url, path: '/', method: 'GET', connections, durationS, expectedStatus: 200 },
      warmupS,
    );
    return [
      loadRow(
        { id: 'baseline-hello', scenario: 'hello', title: 'node:http hello world', kind: 'baseline' },
        connections,
        200,
        result,
      ),
    ];
  },
};

export const directScenario: Scenario = {
  name: 'direct',
  description: 'the mock upstream called directly (POST chat completion, no proxy)',
  references: [],
  rows: [{ id: 'baseline-direct', title: 'mock upstream, direct', kind: 'baseline' }],
  async run(ctx) {
    const upstream = await ctx.upstream();
    return [
      await chatAgainst(ctx, upstream, {
        id: 'baseline-direct',
        scenario: 'direct',
        title: 'mock upstream, direct',
        kind: 'baseline',
      }),
    ];
  },
};

export const bareProxyScenario: Scenario = {
  name: 'bare-proxy',
  description: 'bare pass-through proxy (node:http + undici, gateway pool settings, no auth) to the mock',
  references: ['direct'],
  rows: [{ id: 'baseline-bare-proxy', title: 'bare undici proxy', kind: 'baseline' }],
  async run(ctx) {
    const proxy = await ctx.bareProxy();
    return [
      await chatAgainst(ctx, proxy, {
        id: 'baseline-bare-proxy',
        scenario: 'bare-proxy',
        title: 'bare undici proxy',
        kind: 'baseline',
        reference: 'baseline-direct',
      }),
    ];
  },
};

export const nginxScenario: Scenario = {
  name: 'nginx',
  description:
    'nginx proxy_pass (1 worker, upstream keep-alive) to the mock; skipped when nginx is not installed',
  references: ['direct'],
  rows: [{ id: 'baseline-nginx', title: 'nginx proxy_pass', kind: 'baseline' }],
  async run(ctx) {
    const nginx = await ctx.nginx();
    return [
      await chatAgainst(ctx, nginx, {
        id: 'baseline-nginx',
        scenario: 'nginx',
        title: 'nginx proxy_pass',
        kind: 'baseline',
        reference: 'baseline-direct',
      }),
    ];
  },
};
