/**
 * preload (issue 15): a fresh gateway started with `KEYGATE_PRELOAD_KEYS` = every seeded warm key
 * (they carry a last use, most recent first) loads them from the admin plane in pages while it
 * serves. Measured: the gateway's own preload time (its /readyz `preload.tookMs`), the wall time
 * from the process start until /readyz reports the preload done, keys per second, and the RSS
 * after a forced GC with every key cached. A request with the most recent key is then checked.
 */
import type { PreloadProgress as Progress } from '../../src/cache/key-preloader.js';
import type { BenchContext } from '../context.js';
import { call, jsonOf } from '../load.js';
import { figureRow } from '../measurement.js';
import { forcedGcMemory } from '../processes.js';
import { expectCompletion } from './gateway-load.js';
import type { Scenario } from './scenario.js';

async function readiness(url: string): Promise<Progress | null> {
  const answer = await call(`${url}/readyz`, { method: 'GET' });
  const body = jsonOf<{ preload?: Progress }>(answer, 'GET /readyz');
  return body.preload ?? null;
}

export const preloadScenario: Scenario = {
  name: 'preload',
  description: 'a fresh gateway preloads every warm key (KEYGATE_PRELOAD_KEYS) from the admin plane in pages',
  references: [],
  rows: [{ id: 'preload', title: 'gateway preload (warm start)', kind: 'gateway' }],
  async run(ctx: BenchContext) {
    const planes = await ctx.planes();
    const keys = planes.warmKeys;
    if (keys.length === 0) throw new Error('no warm keys were seeded');
    const started = performance.now();
    await planes.restartGateway({ KEYGATE_PRELOAD_KEYS: String(keys.length) });
    let progress: Progress | null = null;
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      progress = await readiness(planes.gatewayUrl);
      if (progress === null || progress.done) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const wallS = (performance.now() - started) / 1000;
    if (progress === null) throw new Error('/readyz reports no preload (gateway without issue 15?)');
    if (progress.error !== null) throw new Error(`preload failed: ${progress.error}`);
    ctx.log(
      `  preload: ${progress.cached} of ${progress.target} keys in ${progress.tookMs} ms (${wallS.toFixed(1)} s from process start)`,
    );
    // The most recent key is cached: served without a miss.
    await expectCompletion(ctx, 'a preloaded key', keys[0]!.secret);
    const gc = await forcedGcMemory(planes.gatewayChild.pid);
    // Later scenarios expect the gateway of the prefill: the warm keys are all cached now.
    planes.warmLoaded = true;
    const seconds = (progress.tookMs ?? 0) / 1000;
    return [
      figureRow(
        {
          id: 'preload',
          scenario: 'preload',
          title: `gateway preload, ${progress.target} keys`,
          kind: 'gateway',
        },
        {
          extra: {
            keys: progress.target,
            cached: progress.cached,
            preloadSeconds: seconds,
            wallSeconds: wallS,
            keysPerSecond: seconds > 0 ? Math.round(progress.cached / seconds) : null,
            rssAfterGcMb: gc?.rssMb ?? null,
            heapUsedAfterGcMb: gc?.heapUsedMb ?? null,
            heapTotalAfterGcMb: gc?.heapTotalMb ?? null,
            rssRightAfterGcMb: gc?.immediateRssMb ?? null,
            rssGcOnlyMb: gc?.forcedOnly?.rssMb ?? null,
            heapTotalGcOnlyMb: gc?.forcedOnly?.heapTotalMb ?? null,
            externalAfterGcMb: gc?.externalMb ?? null,
            arrayBuffersAfterGcMb: gc?.arrayBuffersMb ?? null,
          },
        },
      ),
    ];
  },
};
