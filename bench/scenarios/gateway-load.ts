/**
 * Throughput scenarios through the gateway, each checked before it is loaded:
 * - hot-key: one cached key, no limits (the gateway's best case), measured in rounds interleaved
 *   with the bare proxy so their ratio survives a noisy machine;
 * - invalid-keys: well-formed tokens with a wrong checksum, refused before hashing (401);
 * - rate-limited: a key with rpm 1 / rpd 1 whose window is spent: every request 429;
 * - limits-on: a key whose key, team and org carry all 15 windows and 3 budgets, none reached.
 */
import { generateSecret, isWellFormedSecret } from '../../src/keys/secret.js';
import { loadRow, type BenchContext } from '../context.js';
import {
  call,
  expectAnswer,
  measureInterleaved,
  warmAndMeasure,
  type LoadResult,
  type LoadSpec,
} from '../load.js';
import type { Measurement } from '../measurement.js';
import { CHAT_BODY, CHAT_PATH, type Planes } from '../planes.js';
import { isCompletion } from './baselines.js';
import type { Scenario } from './scenario.js';

export interface KeyedLoad {
  id: string;
  scenario: string;
  title: string;
  reference?: string;
  nextKey: () => string;
  expectedStatus: number;
  note?: string;
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

/**
 * The autocannon spec of a keyed chat load on the gateway; the gateway's and the admin plane's
 * CPU time are sampled around it (rows report µs per request).
 */
export function keyedSpec(
  ctx: BenchContext,
  planes: Pick<Planes, 'gatewayUrl' | 'gatewayChild' | 'adminChild'>,
  spec: KeyedLoad,
  connections = ctx.options.connections,
): LoadSpec {
  return {
    origin: planes.gatewayUrl,
    path: CHAT_PATH,
    method: 'POST',
    body: CHAT_BODY,
    perRequest: () => bearer(spec.nextKey()),
    connections,
    durationS: ctx.options.durationS,
    expectedStatus: spec.expectedStatus,
    cpuPids: { gateway: planes.gatewayChild.pid, admin: planes.adminChild.pid },
  };
}

export function keyedRow(spec: KeyedLoad, connections: number, result: LoadResult): Measurement {
  return loadRow(
    {
      id: spec.id,
      scenario: spec.scenario,
      title: spec.title,
      kind: 'gateway',
      reference: spec.reference,
      note: spec.note,
    },
    connections,
    spec.expectedStatus,
    result,
  );
}

/** Load the gateway's chat endpoint with a key per request (already checked by the caller). */
export async function keyedLoad(
  ctx: BenchContext,
  spec: KeyedLoad,
  connections = ctx.options.connections,
): Promise<Measurement> {
  const planes = await ctx.planes();
  const result = await warmAndMeasure(keyedSpec(ctx, planes, spec, connections), ctx.options.warmupS);
  return keyedRow(spec, connections, result);
}

export async function expectCompletion(ctx: BenchContext, what: string, key: string): Promise<void> {
  const planes = await ctx.planes();
  await expectAnswer(
    what,
    `${planes.gatewayUrl}${CHAT_PATH}`,
    { method: 'POST', headers: bearer(key), body: CHAT_BODY },
    {
      status: 200,
      body: isCompletion,
      bodyHint: 'a chat completion',
    },
  );
}

export const hotKeyScenario: Scenario = {
  name: 'hot-key',
  description: 'one cached key, no limits: gateway and bare proxy measured in interleaved rounds',
  references: ['direct'],
  rows: [
    { id: 'baseline-bare-proxy-paired', title: 'bare undici proxy (paired)', kind: 'baseline' },
    { id: 'hot-key', title: 'gateway, hot key', kind: 'gateway' },
  ],
  async run(ctx) {
    const [planes, proxy] = await Promise.all([ctx.planes(), ctx.bareProxy()]);
    await expectCompletion(ctx, 'hot key', planes.hotKey);
    await expectAnswer(
      'bare proxy',
      `${proxy.url}${CHAT_PATH}`,
      { method: 'POST', body: CHAT_BODY },
      { status: 200, body: isCompletion },
    );
    const { connections, durationS, warmupS } = ctx.options;
    const hot: KeyedLoad = {
      id: 'hot-key',
      scenario: 'hot-key',
      title: 'gateway, hot key',
      reference: 'baseline-bare-proxy-paired',
      nextKey: () => planes.hotKey,
      expectedStatus: 200,
    };
    const proxySpec: LoadSpec = {
      origin: proxy.url,
      path: CHAT_PATH,
      method: 'POST',
      body: CHAT_BODY,
      connections,
      durationS,
      expectedStatus: 200,
      cpuPids: { proxy: proxy.child.pid },
    };
    const [proxyResult, hotResult] = await measureInterleaved(
      [proxySpec, keyedSpec(ctx, planes, hot)],
      warmupS,
      durationS,
    );
    return [
      loadRow(
        {
          id: 'baseline-bare-proxy-paired',
          scenario: 'hot-key',
          title: 'bare undici proxy (paired)',
          kind: 'baseline',
          reference: 'baseline-direct',
          note: 'measured in rounds interleaved with the hot key, for the hot-key ratio',
        },
        connections,
        200,
        proxyResult!,
      ),
      keyedRow(hot, connections, hotResult!),
    ];
  },
};

/** Tokens with the right prefix, length and alphabet but a wrong checksum. */
export function invalidKeys(count: number): string[] {
  const keys: string[] = [];
  while (keys.length < count) {
    const good = generateSecret();
    const last = good.at(-1)!;
    const bad = good.slice(0, -1) + (last === 'a' ? 'b' : 'a');
    if (!isWellFormedSecret(bad)) keys.push(bad);
  }
  return keys;
}

export const invalidKeysScenario: Scenario = {
  name: 'invalid-keys',
  description: 'made-up keys (wrong checksum), 1,000 different ones: every request 401 invalid_api_key',
  references: ['hot-key'],
  rows: [{ id: 'invalid-keys', title: 'gateway, invalid keys (401)', kind: 'gateway' }],
  async run(ctx) {
    const planes = await ctx.planes();
    const keys = invalidKeys(1000);
    await expectAnswer(
      'invalid key',
      `${planes.gatewayUrl}${CHAT_PATH}`,
      { method: 'POST', headers: bearer(keys[0]!), body: CHAT_BODY },
      {
        status: 401,
        errorCode: 'invalid_api_key',
      },
    );
    let next = 0;
    return [
      await keyedLoad(ctx, {
        id: 'invalid-keys',
        scenario: 'invalid-keys',
        title: 'gateway, invalid keys (401)',
        reference: 'hot-key',
        nextKey: () => keys[next++ % keys.length]!,
        expectedStatus: 401,
      }),
    ];
  },
};

export const rateLimitedScenario: Scenario = {
  name: 'rate-limited',
  description: 'a key with rpm 1 and rpd 1, window spent: every request 429 rate_limit_exceeded',
  references: ['hot-key'],
  rows: [{ id: 'rate-limited', title: 'gateway, rate-limited (429)', kind: 'gateway' }],
  async run(ctx) {
    const planes = await ctx.planes();
    const url = `${planes.gatewayUrl}${CHAT_PATH}`;
    // Spend the one request the windows allow (if it is still there), then expect refusals.
    for (let i = 0; i < 3; i++) {
      const answer = await call(url, {
        method: 'POST',
        headers: bearer(planes.rateLimitedKey),
        body: CHAT_BODY,
      });
      if (answer.status === 429) break;
    }
    await expectAnswer(
      'rate-limited key',
      url,
      { method: 'POST', headers: bearer(planes.rateLimitedKey), body: CHAT_BODY },
      {
        status: 429,
        errorCode: 'rate_limit_exceeded',
      },
    );
    return [
      await keyedLoad(ctx, {
        id: 'rate-limited',
        scenario: 'rate-limited',
        title: 'gateway, rate-limited (429)',
        reference: 'hot-key',
        nextKey: () => planes.rateLimitedKey,
        expectedStatus: 429,
      }),
    ];
  },
};

export const limitsOnScenario: Scenario = {
  name: 'limits-on',
  description: 'all 15 windows + 3 budgets configured on key, team and org, far from reached',
  references: ['hot-key'],
  rows: [{ id: 'limits-on', title: 'gateway, all limits on', kind: 'gateway' }],
  async run(ctx) {
    const planes = await ctx.planes();
    await expectCompletion(ctx, 'limits-on key', planes.limitsKey);
    return [
      await keyedLoad(ctx, {
        id: 'limits-on',
        scenario: 'limits-on',
        title: 'gateway, all limits on',
        reference: 'hot-key',
        nextKey: () => planes.limitsKey,
        expectedStatus: 200,
      }),
    ];
  },
};
