/**
 * Revocation latency under load: while autocannon keeps the gateway busy with the hot key, each
 * trial takes a fresh cached key, revokes it through the admin API and polls the gateway with
 * it (back to back, one connection) until it is refused. Latency = refusal received − admin
 * answer received (DESIGN.md: "refused ... within 1 second of the admin API answering").
 * Two modes: pushes on, and pushes dropped (admin restarted with KEYGATE_GATEWAY_URLS="", so only
 * the gateway's change-feed pull, every 1 s, can repair it). The gateway's own apply lag (commit →
 * applied, from its /metrics histogram, bucket upper bounds) is kept beside it, to tell the
 * transport apart from the reload and the polling.
 */
import { Client } from 'undici';
import type { BenchContext } from '../context.js';
import { call, startLoad } from '../load.js';
import type { Measurement } from '../measurement.js';
import { CHAT_BODY, CHAT_PATH, type Planes } from '../planes.js';
import type { SeededKey } from '../seed.js';
import { summarize } from '../stats.js';
import { bearer } from './gateway-load.js';
import type { Scenario } from './scenario.js';

interface TrialResult {
  fromAnswerMs?: number;
  fromSendMs?: number;
  code?: string;
  /** How long the refusing poll request took: the resolution of this trial's figure. */
  pollMs?: number;
  failure?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const elapsedMs = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

async function chat(client: Client, key: string): Promise<{ status: number; code: string | undefined }> {
  const answer = await client.request({
    path: CHAT_PATH,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(key) },
    body: CHAT_BODY,
  });
  const text = await answer.body.text();
  if (answer.statusCode === 200) return { status: 200, code: undefined };
  try {
    return {
      status: answer.statusCode,
      code: (JSON.parse(text) as { error?: { code?: string } }).error?.code,
    };
  } catch {
    return { status: answer.statusCode, code: undefined };
  }
}

async function trial(
  planes: Planes,
  client: Client,
  key: SeededKey,
  timeoutMs: number,
): Promise<TrialResult> {
  const before = await chat(client, key.secret);
  if (before.status !== 200)
    return { failure: `key answered ${before.status} ${before.code ?? ''} before the revoke` };
  let refused: { at: bigint; code: string | undefined; status: number; pollMs: number } | undefined;
  let stop = false;
  const poller = (async () => {
    while (!stop) {
      const polled = process.hrtime.bigint();
      const answer = await chat(client, key.secret);
      if (answer.status !== 200) {
        const at = process.hrtime.bigint();
        refused = { at, code: answer.code, status: answer.status, pollMs: elapsedMs(polled, at) };
        return;
      }
    }
  })();
  const sent = process.hrtime.bigint();
  await planes.admin('POST', `/v1/keys/${key.id}/revoke`);
  const answered = process.hrtime.bigint();
  const timer = sleep(timeoutMs);
  await Promise.race([poller, timer]);
  stop = true;
  await poller.catch(() => undefined);
  if (refused === undefined) return { failure: `still accepted ${timeoutMs} ms after the revoke` };
  if (refused.status !== 401)
    return { failure: `answered ${refused.status} ${refused.code ?? ''} instead of 401 key_revoked` };
  return {
    fromAnswerMs: Math.max(0, elapsedMs(answered, refused.at)),
    fromSendMs: elapsedMs(sent, refused.at),
    code: refused.code,
    pollMs: refused.pollMs,
  };
}

/** Histogram buckets (upper bound in ms → cumulative count) of one Prometheus histogram. */
export function histogramBuckets(metricsText: string, name: string): Map<number, number> {
  const buckets = new Map<number, number>();
  const pattern = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\}\\s+([0-9.e+]+)`, 'gm');
  for (const match of metricsText.matchAll(pattern)) {
    const bound = match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]) * 1000;
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[2]));
  }
  return buckets;
}

/** Upper bound (ms) of the bucket holding percentile p of the observations between two scrapes. */
export function bucketPercentile(
  before: Map<number, number>,
  after: Map<number, number>,
  p: number,
): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return null;
  for (const bound of bounds) {
    if ((after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= (p / 100) * total) return bound;
  }
  return null;
}

const APPLY_LAG = 'keygate_gateway_invalidation_lag_seconds';

async function scrape(planes: Planes): Promise<string> {
  try {
    return (await call(`${planes.gatewayUrl}/metrics`)).text;
  } catch {
    return '';
  }
}

async function trials(
  ctx: BenchContext,
  planes: Planes,
  keys: readonly SeededKey[],
  mode: 'push' | 'pull',
): Promise<Measurement> {
  const loadConnections = Math.min(16, ctx.options.connections);
  const load = startLoad({
    origin: planes.gatewayUrl,
    path: CHAT_PATH,
    method: 'POST',
    body: CHAT_BODY,
    perRequest: () => bearer(planes.hotKey),
    connections: loadConnections,
    durationS: 3600,
    expectedStatus: 200,
  });
  const results: TrialResult[] = [];
  const started = Date.now();
  // Pushes: one trial at a time. Pull only: the refusal waits for the next 1 s pull, so trials
  // run 5 at a time, each after a random pause of up to 1 s: the revokes land at uniformly
  // random phases of the pull timer (sequential trials would lock onto one phase).
  const workers = mode === 'push' ? 1 : 5;
  const pause = (): number => (mode === 'push' ? 20 + Math.random() * 80 : Math.random() * 1000);
  const queue = [...keys];
  const before = await scrape(planes);
  try {
    await sleep(500); // let the load ramp up
    await Promise.all(
      Array.from({ length: workers }, async () => {
        const client = new Client(planes.gatewayUrl);
        try {
          for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
            await sleep(pause());
            results.push(await trial(planes, client, key, mode === 'push' ? 2000 : 3000));
          }
        } finally {
          await client.close();
        }
      }),
    );
  } finally {
    load.stop();
  }
  const after = await scrape(planes);
  const background = await load.done;
  const ok = results.filter((result) => result.fromAnswerMs !== undefined);
  const fromAnswer = summarize(ok.map((result) => result.fromAnswerMs!));
  const fromSend = summarize(ok.map((result) => result.fromSendMs!));
  const failures = results.filter((result) => result.failure !== undefined).map((result) => result.failure!);
  const codes = [...new Set(ok.map((result) => result.code ?? 'none'))];
  return {
    id: `revocation-${mode}`,
    scenario: 'revocation',
    title: mode === 'push' ? 'revocation, pushes on' : 'revocation, pushes dropped (pull only)',
    kind: 'gateway',
    connections: loadConnections,
    durationS: (Date.now() - started) / 1000,
    requests: results.length,
    rps: null,
    p50Ms: fromAnswer.p50Ms,
    p90Ms: fromAnswer.p90Ms,
    p99Ms: fromAnswer.p99Ms,
    errors: failures.length,
    expectedStatus: 401,
    note: `${results.length} trials under a ${loadConnections}-connection hot-key load; latency from the admin answer to the first refusal`,
    extra: {
      trials: results.length,
      maxMs: fromAnswer.maxMs,
      fromSendP50Ms: fromSend.p50Ms,
      fromSendP99Ms: fromSend.p99Ms,
      pollP50Ms: summarize(ok.map((result) => result.pollMs!)).p50Ms,
      refusalCodes: codes.join(','),
      latenciesMs: ok.map((result) => result.fromAnswerMs!.toFixed(1)).join(' '),
      gatewayApplyLagP50Ms: bucketPercentile(
        histogramBuckets(before, APPLY_LAG),
        histogramBuckets(after, APPLY_LAG),
        50,
      ),
      gatewayApplyLagP99Ms: bucketPercentile(
        histogramBuckets(before, APPLY_LAG),
        histogramBuckets(after, APPLY_LAG),
        99,
      ),
      backgroundRps: background.rps,
      backgroundErrors: background.errors,
      ...(failures.length > 0 ? { firstFailure: failures[0]! } : {}),
    },
  };
}

export const revocationScenario: Scenario = {
  name: 'revocation',
  description:
    'revoke through the admin API under load; time until the gateway refuses (push on, then pushes dropped)',
  references: [],
  rows: [
    { id: 'revocation-push', title: 'revocation, pushes on', kind: 'gateway' },
    { id: 'revocation-pull', title: 'revocation, pushes dropped (pull only)', kind: 'gateway' },
  ],
  async run(ctx) {
    const planes = await ctx.planes();
    const half = Math.floor(planes.revocationKeys.length / 2);
    if (half === 0) throw new Error('no revocation keys were seeded');
    const push = await trials(ctx, planes, planes.revocationKeys.slice(0, half), 'push');
    ctx.log('  restarting the admin plane with KEYGATE_GATEWAY_URLS="" (pushes dropped)');
    await planes.restartAdmin(false);
    try {
      const pull = await trials(ctx, planes, planes.revocationKeys.slice(half, 2 * half), 'pull');
      return [push, pull];
    } finally {
      await planes.restartAdmin(true);
    }
  },
};
