/**
 * Streaming chat completions (SSE, 20 chunks 5 ms apart from the mock): time to first byte and
 * total time per stream, direct vs through the gateway, at up to 16 concurrent streams. A small
 * undici loop, because autocannon does not report time to first byte. Every stream is checked:
 * status 200, all 20 content chunks, and the final `data: [DONE]`.
 */
import { Pool } from 'undici';
import { STREAM_CHUNKS, type BenchContext } from '../context.js';
import type { Measurement } from '../measurement.js';
import { CHAT_PATH, STREAM_BODY } from '../planes.js';
import { Samples, summarize } from '../stats.js';
import { bearer } from './gateway-load.js';
import type { Scenario } from './scenario.js';

const MAX_STREAMS = 16;

interface StreamStats {
  ttfb: Samples;
  total: Samples;
  errors: number;
  elapsedS: number;
}

export function streamIsComplete(text: string): boolean {
  const chunks = text.split('"content":"tok').length - 1;
  return chunks === STREAM_CHUNKS && text.trimEnd().endsWith('data: [DONE]');
}

/** `concurrency` workers streaming back to back for `seconds` (or exactly `count` streams each). */
async function streamLoop(
  origin: string,
  headers: Record<string, string>,
  concurrency: number,
  seconds: number,
  count?: number,
): Promise<StreamStats> {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  const stats: StreamStats = { ttfb: new Samples(), total: new Samples(), errors: 0, elapsedS: 0 };
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const worker = async (): Promise<void> => {
    for (let i = 0; count !== undefined ? i < count : Date.now() < deadline; i++) {
      const t0 = process.hrtime.bigint();
      try {
        const answer = await pool.request({ path: CHAT_PATH, method: 'POST', headers, body: STREAM_BODY });
        let first: bigint | undefined;
        let text = '';
        for await (const chunk of answer.body) {
          first ??= process.hrtime.bigint();
          text += (chunk as Buffer).toString('utf8');
        }
        const end = process.hrtime.bigint();
        if (answer.statusCode !== 200 || !streamIsComplete(text) || first === undefined) {
          stats.errors++;
          continue;
        }
        stats.ttfb.push(Number(first - t0) / 1e6);
        stats.total.push(Number(end - t0) / 1e6);
      } catch {
        stats.errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
  stats.elapsedS = (Date.now() - started) / 1000;
  return stats;
}

function row(
  id: string,
  title: string,
  kind: Measurement['kind'],
  concurrency: number,
  stats: StreamStats,
  reference?: Measurement,
): Measurement {
  const total = summarize(stats.total);
  const ttfb = summarize(stats.ttfb);
  const refTtfbP50 = reference?.extra?.ttfbP50Ms;
  return {
    id,
    scenario: 'streaming',
    title,
    kind,
    connections: concurrency,
    durationS: stats.elapsedS,
    requests: total.count,
    rps: total.count / stats.elapsedS,
    p50Ms: total.p50Ms,
    p90Ms: total.p90Ms,
    p99Ms: total.p99Ms,
    errors: stats.errors,
    expectedStatus: 200,
    reference: reference?.id,
    note: 'rps = streams per second; p50/p99 = total stream time',
    extra: {
      ttfbP50Ms: ttfb.p50Ms,
      ttfbP99Ms: ttfb.p99Ms,
      ...(typeof refTtfbP50 === 'number' && ttfb.p50Ms !== null
        ? { addedTtfbP50Ms: ttfb.p50Ms - refTtfbP50 }
        : {}),
    },
  };
}

export const streamingScenario: Scenario = {
  name: 'streaming',
  description:
    'SSE chat completions (20 chunks, 5 ms apart): time to first byte and total, direct vs gateway',
  references: [],
  rows: [
    { id: 'streaming-direct', title: 'streaming, direct', kind: 'baseline' },
    { id: 'streaming-gateway', title: 'streaming, gateway', kind: 'gateway' },
  ],
  async run(ctx: BenchContext) {
    const [upstream, planes] = await Promise.all([ctx.upstream(), ctx.planes()]);
    const concurrency = Math.min(MAX_STREAMS, ctx.options.connections);
    const json = { 'content-type': 'application/json' };
    const gatewayHeaders = { ...json, ...bearer(planes.hotKey) };
    // Check: one stream each way must be complete before loading.
    for (const [what, origin, headers] of [
      ['direct stream', upstream.url, json],
      ['gateway stream', planes.gatewayUrl, gatewayHeaders],
    ] as const) {
      const check = await streamLoop(origin, headers, 1, 0, 1);
      if (check.errors > 0 || check.total.count === 0)
        throw new Error(
          `check failed for ${what}: the stream was not 200 with ${STREAM_CHUNKS} chunks and [DONE]`,
        );
    }
    const seconds = ctx.options.durationS;
    const warm = Math.min(ctx.options.warmupS, 1);
    if (warm > 0) await streamLoop(upstream.url, json, concurrency, warm);
    const direct = row(
      'streaming-direct',
      'streaming, direct',
      'baseline',
      concurrency,
      await streamLoop(upstream.url, json, concurrency, seconds),
    );
    if (warm > 0) await streamLoop(planes.gatewayUrl, gatewayHeaders, concurrency, warm);
    const gateway = row(
      'streaming-gateway',
      'streaming, gateway',
      'gateway',
      concurrency,
      await streamLoop(planes.gatewayUrl, gatewayHeaders, concurrency, seconds),
      direct,
    );
    return [direct, gateway];
  },
};
