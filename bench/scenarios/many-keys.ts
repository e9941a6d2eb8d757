/**
 * Scenarios over many keys:
 * - many-keys: 100,000 seeded keys, each loaded once (the prefill), then requests pick a key
 *   uniformly at random: the cache holds them all, so this measures the LRU at full size;
 *   measured in rounds interleaved with the hot key, for a ratio that survives machine noise;
 * - memory: the gateway's RSS with those keys cached and a window counter for each, read after a
 *   forced full GC (the bench starts the gateway with --expose-gc and bench/gc-hook.ts), with the
 *   heap per key (heap after GC with the keys − heap after GC before them, ÷ keys);
 * - cold-misses: keys nothing has used yet, each request a miss that loads the policy from the
 *   admin plane (single-flight, batched, over HTTP): it must be sustained without errors; measured
 *   proxied (the upstream answers) and on GET /v1/models (the key loads alone).
 */
import { loadRow, type BenchContext } from '../context.js';
import { measureInterleaved, runLoad, type LoadResult } from '../load.js';
import { figureRow } from '../measurement.js';
import { CHAT_BODY, CHAT_PATH, MODELS_PATH, type Planes } from '../planes.js';
import type { SeededKey } from '../seed.js';
import { forcedGcMemory, rssMb, type ForcedGcMemory } from '../processes.js';
import { bearer, expectCompletion, keyedRow, keyedSpec, type KeyedLoad } from './gateway-load.js';
import type { Scenario } from './scenario.js';

interface Prefill {
  result: LoadResult;
  rssBeforeMb: number | null;
  /** After a forced GC, before the keys were loaded. */
  gcBefore: ForcedGcMemory | null;
}
const prefills = new WeakMap<Planes, Promise<Prefill>>();

/** Use every warm key once (sequentially) so all are cached with their counters. */
export function ensureWarmKeysLoaded(ctx: BenchContext, planes: Planes): Promise<Prefill> {
  let existing = prefills.get(planes);
  if (existing === undefined) {
    existing = (async () => {
      const keys = planes.warmKeys;
      if (keys.length === 0) throw new Error('no warm keys were seeded');
      await planes.restartGateway();
      await expectCompletion(ctx, 'a seeded key', keys[0]!.secret);
      const gcBefore = await forcedGcMemory(planes.gatewayChild.pid);
      const rssBeforeMb = gcBefore?.rssMb ?? rssMb(planes.gatewayChild.pid);
      ctx.log(`  prefill: loading ${keys.length} keys into the gateway cache`);
      let next = 0;
      const result = await runLoad({
        origin: planes.gatewayUrl,
        path: CHAT_PATH,
        method: 'POST',
        body: CHAT_BODY,
        perRequest: () => bearer(keys[next++ % keys.length]!.secret),
        connections: ctx.options.connections,
        durationS: 600,
        amount: keys.length,
        expectedStatus: 200,
      });
      if (result.errors > 0) {
        throw new Error(
          `prefill: ${result.errors} of ${result.requests} requests failed (${JSON.stringify(result.statusCounts)})`,
        );
      }
      ctx.log(
        `  prefill: ${result.requests} requests in ${result.durationS.toFixed(1)} s (${Math.round(result.rps)}/s, all misses)`,
      );
      planes.warmLoaded = true;
      return { result, rssBeforeMb, gcBefore };
    })();
    prefills.set(planes, existing);
  }
  return existing;
}

export const manyKeysScenario: Scenario = {
  name: 'many-keys',
  description: '100,000 keys, all cached, each request a uniformly random key (interleaved with the hot key)',
  references: [],
  rows: [
    { id: 'hot-key-paired', title: 'gateway, hot key (paired)', kind: 'gateway' },
    { id: 'many-keys', title: 'gateway, many keys (random)', kind: 'gateway' },
  ],
  async run(ctx) {
    const planes = await ctx.planes();
    const prefill = await ensureWarmKeysLoaded(ctx, planes);
    const keys = planes.warmKeys;
    const { connections, durationS, warmupS } = ctx.options;
    const hot: KeyedLoad = {
      id: 'hot-key-paired',
      scenario: 'many-keys',
      title: 'gateway, hot key (paired)',
      reference: 'hot-key',
      nextKey: () => planes.hotKey,
      expectedStatus: 200,
      note: 'measured in rounds interleaved with many-keys, for the many-keys ratio',
    };
    const many: KeyedLoad = {
      id: 'many-keys',
      scenario: 'many-keys',
      title: `gateway, ${keys.length.toLocaleString('en-US')} keys (random)`,
      reference: 'hot-key-paired',
      nextKey: () => keys[Math.floor(Math.random() * keys.length)]!.secret,
      expectedStatus: 200,
    };
    const [hotResult, manyResult] = await measureInterleaved(
      [keyedSpec(ctx, planes, hot), keyedSpec(ctx, planes, many)],
      warmupS,
      durationS,
    );
    const row = keyedRow(many, connections, manyResult!);
    row.extra = {
      ...row.extra,
      keys: keys.length,
      prefillRps: prefill.result.rps,
      prefillSeconds: prefill.result.durationS,
    };
    return [keyedRow(hot, connections, hotResult!), row];
  },
};

export const memoryScenario: Scenario = {
  name: 'memory',
  description: 'gateway RSS with 100,000 keys cached and their window counters',
  references: [],
  rows: [{ id: 'memory', title: 'gateway RSS, keys cached', kind: 'gateway' }],
  async run(ctx) {
    const planes = await ctx.planes();
    const prefill = await ensureWarmKeysLoaded(ctx, planes);
    const rssNoGc = rssMb(planes.gatewayChild.pid);
    const gc = await forcedGcMemory(planes.gatewayChild.pid);
    const rss = gc?.rssMb ?? rssNoGc;
    const keys = planes.warmKeys.length;
    const heapPerKeyBytes =
      gc !== null && prefill.gcBefore !== null
        ? Math.round(((gc.heapUsedMb - prefill.gcBefore.heapUsedMb) * 1024 * 1024) / keys)
        : null;
    const row = figureRow(
      {
        id: 'memory',
        scenario: 'memory',
        title: `gateway RSS, ${planes.warmKeys.length.toLocaleString('en-US')} keys cached`,
        kind: 'gateway',
      },
      {
        extra: {
          rssMb: rss,
          rssBeforePrefillMb: prefill.rssBeforeMb,
          rssWithoutGcMb: rssNoGc,
          heapUsedMb: gc?.heapUsedMb ?? null,
          heapTotalMb: gc?.heapTotalMb ?? null,
          rssRightAfterGcMb: gc?.immediateRssMb ?? null,
          heapTotalRightAfterGcMb: gc?.immediateHeapTotalMb ?? null,
          rssGcOnlyMb: gc?.forcedOnly?.rssMb ?? null,
          heapTotalGcOnlyMb: gc?.forcedOnly?.heapTotalMb ?? null,
          rssBeforePrefillGcOnlyMb: prefill.gcBefore?.forcedOnly?.rssMb ?? null,
          externalMb: gc?.externalMb ?? null,
          arrayBuffersMb: gc?.arrayBuffersMb ?? null,
          externalBeforePrefillMb: prefill.gcBefore?.externalMb ?? null,
          heapPerKeyBytes,
          gcForced: gc === null ? 'no' : gc.forced ? 'yes' : 'no (--expose-gc missing)',
          keys,
        },
      },
    );
    if (rss === null) row.note = 'RSS not readable on this platform (/proc missing)';
    else if (gc === null) row.note = 'no forced GC (the GC hook did not answer): RSS as is';
    return [row];
  },
};

/** Measures `keys` as cold misses on `path` (warm-up on the pool first); the pool is used in order. */
async function coldLoad(
  ctx: BenchContext,
  planes: Planes,
  keys: readonly SeededKey[],
  request: { path: string; method: 'GET' | 'POST'; body?: string },
): Promise<{ result: LoadResult; exhausted: boolean; used: number }> {
  let next = 0;
  const spec = {
    origin: planes.gatewayUrl,
    ...request,
    perRequest: () => bearer(keys[next++ % keys.length]!.secret),
    connections: ctx.options.connections,
    expectedStatus: 200,
    cpuPids: { gateway: planes.gatewayChild.pid, admin: planes.adminChild.pid },
  };
  // Short warm-up on the pool itself (these keys are cold too); then measure until the pool
  // runs out or the duration ends, whichever comes first.
  const warmupS = Math.min(ctx.options.warmupS, 1);
  if (warmupS > 0) await runLoad({ ...spec, durationS: warmupS, amount: Math.floor(keys.length / 4) });
  const remaining = keys.length - next;
  const result = await runLoad({ ...spec, durationS: ctx.options.durationS, amount: remaining });
  return { result, exhausted: result.requests >= remaining, used: Math.min(next, keys.length) };
}

/**
 * Two rows over two halves of the cold keys: the misses proxied to the upstream (the issue's
 * figure), and the same misses on `GET /v1/models`, which the gateway answers from the loaded
 * policy: the key-loading path (hash, batched `POST /internal/keys`, resolve, cache) without the
 * upstream and the proxy, whose own cost bounds the first row on a 2-core machine.
 */
export const coldMissesScenario: Scenario = {
  name: 'cold-misses',
  description: 'keys never used before: every request loads the policy from the admin plane',
  references: ['hot-key'],
  rows: [
    { id: 'cold-misses', title: 'gateway, cold misses', kind: 'gateway' },
    { id: 'cold-loads', title: 'gateway, cold misses on /v1/models', kind: 'gateway' },
  ],
  async run(ctx) {
    const planes = await ctx.planes();
    const half = Math.floor(planes.coldKeys.length / 2);
    const proxied = planes.coldKeys.slice(0, half);
    const models = planes.coldKeys.slice(half);
    if (proxied.length < 2 || models.length < 2) throw new Error('too few cold keys were seeded');
    await expectCompletion(ctx, 'a cold key', proxied[0]!.secret);
    const rows = [];
    const runs = [
      {
        keys: proxied.slice(1),
        request: { path: CHAT_PATH, method: 'POST' as const, body: CHAT_BODY },
        row: { id: 'cold-misses', title: 'gateway, cold misses (admin load)', reference: 'hot-key' },
      },
      {
        keys: models,
        request: { path: MODELS_PATH, method: 'GET' as const },
        row: { id: 'cold-loads', title: 'gateway, cold misses on /v1/models (no upstream)' },
      },
    ];
    for (const { keys, request, row } of runs) {
      const { result, exhausted, used } = await coldLoad(ctx, planes, keys, request);
      rows.push(
        loadRow(
          {
            ...row,
            scenario: 'cold-misses',
            kind: 'gateway',
            note: exhausted
              ? `the ${keys.length} cold keys of this row ran out after ${result.durationS.toFixed(1)} s; use --cold-keys for more`
              : undefined,
          },
          ctx.options.connections,
          200,
          result,
          { coldKeysUsed: used },
        ),
      );
    }
    return rows;
  },
};
