/**
 * Added latency at one connection: the mock upstream direct, the bare proxy and the gateway
 * (hot key) are called in interleaved rounds of sequential requests over one keep-alive
 * connection each (order alternating per round, so drift hits all three alike). Timed with
 * hrtime in a small undici loop: autocannon's histogram keeps whole milliseconds only, and
 * the targets here are 0.5 ms (p50) and 1 ms (p99) over direct.
 */
import { Client } from 'undici';
import type { BenchContext } from '../context.js';
import type { Measurement } from '../measurement.js';
import { CHAT_BODY, CHAT_PATH } from '../planes.js';
import { Samples, summarize } from '../stats.js';
import { isCompletion } from './baselines.js';
import { bearer, expectCompletion } from './gateway-load.js';
import type { Scenario } from './scenario.js';

const ROUND = 100;

interface Lane {
  id: string;
  title: string;
  kind: Measurement['kind'];
  client: Client;
  headers: Record<string, string>;
  samples: Samples;
  errors: number;
}

async function round(lane: Lane, count: number, record: boolean): Promise<void> {
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    try {
      const answer = await lane.client.request({
        path: CHAT_PATH,
        method: 'POST',
        headers: lane.headers,
        body: CHAT_BODY,
      });
      const text = await answer.body.text();
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (!record) continue;
      lane.samples.push(elapsedMs);
      if (answer.statusCode !== 200 || !isCompletion(text)) lane.errors++;
    } catch {
      if (record) lane.errors++;
    }
  }
}

export const latencyScenario: Scenario = {
  name: 'latency',
  description: 'one connection, sequential requests: direct vs bare proxy vs gateway, interleaved rounds',
  references: [],
  rows: [
    { id: 'latency-c1-direct', title: 'c=1 mock upstream, direct', kind: 'baseline' },
    { id: 'latency-c1-bare-proxy', title: 'c=1 bare undici proxy', kind: 'baseline' },
    { id: 'latency-c1-gateway', title: 'c=1 gateway, hot key', kind: 'gateway' },
  ],
  async run(ctx: BenchContext) {
    const [upstream, proxy, planes] = await Promise.all([ctx.upstream(), ctx.bareProxy(), ctx.planes()]);
    await expectCompletion(ctx, 'hot key', planes.hotKey);
    const json = { 'content-type': 'application/json' };
    const lanes: Lane[] = [
      {
        id: 'latency-c1-direct',
        title: 'c=1 mock upstream, direct',
        kind: 'baseline',
        client: new Client(upstream.url),
        headers: json,
        samples: new Samples(),
        errors: 0,
      },
      {
        id: 'latency-c1-bare-proxy',
        title: 'c=1 bare undici proxy',
        kind: 'baseline',
        client: new Client(proxy.url),
        headers: json,
        samples: new Samples(),
        errors: 0,
      },
      {
        id: 'latency-c1-gateway',
        title: 'c=1 gateway, hot key',
        kind: 'gateway',
        client: new Client(planes.gatewayUrl),
        headers: { ...json, ...bearer(planes.hotKey) },
        samples: new Samples(),
        errors: 0,
      },
    ];
    try {
      const phase = async (seconds: number, record: boolean): Promise<void> => {
        const deadline = Date.now() + seconds * 1000;
        for (let r = 0; Date.now() < deadline; r++) {
          const order = r % 2 === 0 ? lanes : [...lanes].reverse();
          for (const lane of order) await round(lane, ROUND, record);
        }
      };
      await phase(ctx.options.warmupS, false);
      const started = Date.now();
      await phase(ctx.options.durationS, true);
      const elapsedS = (Date.now() - started) / 1000;
      const direct = summarize(lanes[0]!.samples);
      return lanes.map((lane): Measurement => {
        const summary = summarize(lane.samples);
        const isDirect = lane === lanes[0];
        return {
          id: lane.id,
          scenario: 'latency',
          title: lane.title,
          kind: lane.kind,
          connections: 1,
          durationS: elapsedS / lanes.length,
          requests: summary.count,
          rps: summary.meanMs !== null ? 1000 / summary.meanMs : null,
          p50Ms: summary.p50Ms,
          p90Ms: summary.p90Ms,
          p99Ms: summary.p99Ms,
          errors: lane.errors,
          expectedStatus: 200,
          reference: isDirect ? undefined : 'latency-c1-direct',
          extra: isDirect
            ? { meanMs: summary.meanMs }
            : {
                meanMs: summary.meanMs,
                addedP50Ms:
                  summary.p50Ms !== null && direct.p50Ms !== null ? summary.p50Ms - direct.p50Ms : null,
                addedP99Ms:
                  summary.p99Ms !== null && direct.p99Ms !== null ? summary.p99Ms - direct.p99Ms : null,
              },
        };
      });
    } finally {
      await Promise.all(lanes.map((lane) => lane.client.close()));
    }
  },
};
