/**
 * Attack round: exactness under concurrency against a gateway served on a real socket (harness:
 * real LimitsAdmission, MemoryCounterStore and MemorySpendStore), with a hostile upstream.
 * Tens of requests in parallel at a key with a tiny budget, a small RPM, a parallel cap; streaming
 * and not; upstream errors, aborted clients mid-stream, answers without usage or with absurd usage.
 * Checks: never more admitted than the bound, every reservation and slot released, spend equal to
 * the costs recorded for the usage report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { ManualClock } from '../../../src/clock.js';
import { hashSecret } from '../../../src/keys/secret.js';
import { NO_LIMITS, type Limits } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { eventually } from '../../helpers/eventually.js';
import { targetRoute } from '../../helpers/gateway-fixtures.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';
import { startHostileUpstream, type HostileUpstream } from './hostile-upstream.js';

const MODELS = [
  'ok',
  'exact',
  'no-usage',
  'huge-usage',
  'negative-usage',
  'string-usage',
  'bad-json',
  'fail-500',
  'sse-ok',
  'sse-no-done',
  'sse-cut',
  'sse-forever',
  'sse-no-separator',
  'huge-headers',
  'short-body',
  'json-trickle',
];

const clock = new ManualClock(Date.UTC(2026, 5, 1, 10, 0, 0));
const spend = new MemorySpendStore();
const limits = new LimitsAdmission({ spend, clock });
let upstream: HostileUpstream;
let h: Harness;
let nextTeam = 0;

beforeAll(async () => {
  upstream = await startHostileUpstream();
  h = await startHarness({
    clock,
    admission: limits,
    upstreamTimeoutMs: 5_000,
    extraTargets: MODELS.map((name) => targetRoute(name, `${upstream.url}/v1`)),
  });
});
afterAll(async () => {
  await h.close();
  await upstream.close();
});

interface Scoped {
  secret: string;
  keyId: string;
  teamId: string;
}

function keyWith(key: Partial<Limits>, team: Partial<Limits> = {}): Scoped {
  const teamId = `team_attack_${nextTeam++}`;
  const secret = h.newKey({
    team: { id: teamId, limits: { ...NO_LIMITS, ...team }, spendMicros: 0 },
    org: { id: 'org_attack', limits: NO_LIMITS, spendMicros: 0 },
  });
  const policy = h.source.policies.get(hashSecret(secret))!;
  policy.key = { ...policy.key, limits: { ...NO_LIMITS, ...key } };
  return { secret, keyId: policy.key.id, teamId };
}

function post(
  secret: string,
  model: string,
  options: {
    stream?: boolean;
    maxTokens?: number;
    delayMs?: number;
    /** The usage the upstream reports (`exact` model): [input, output]. */
    usage?: [number, number];
    signal?: AbortSignal;
    extra?: Record<string, unknown>;
  } = {},
): Promise<Response> {
  return fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${secret}`,
      'x-mock-delay-ms': String(options.delayMs ?? 30),
      'x-mock-usage': (options.usage ?? [0, 0]).join(','),
    },
    body: JSON.stringify({
      model,
      stream: options.stream ?? false,
      max_tokens: options.maxTokens ?? 100,
      messages: [{ role: 'user', content: 'hello' }],
      ...options.extra,
    }),
    signal: options.signal,
  });
}

async function drain(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
  }
}

async function settledEverywhere(key: Scoped): Promise<void> {
  await eventually(() => limits.inFlight === 0, { what: 'every ticket ended', timeoutMs: 10_000 });
  for (const [scope, id] of [
    ['key', key.keyId],
    ['team', key.teamId],
  ] as const) {
    const view = spend.spendOf(scope, id);
    expect(view?.reservedMicros ?? 0, `${scope} reserved`).toBe(0);
    expect(Number.isSafeInteger(view?.spendMicros ?? 0), `${scope} spend finite`).toBe(true);
  }
  const recorded = h.usage.filter((u) => u.keyId === key.keyId).reduce((sum, u) => sum + u.spendMicros, 0);
  expect(spend.spendOf('key', key.keyId)?.spendMicros ?? 0, 'spend = recorded costs').toBe(recorded);
  const policy = [...h.source.policies.values()].find((p) => p.key.id === key.keyId)!;
  for (const window of await limits.windowUsage(policy))
    if (window.param.endsWith('_parallel')) expect(window.used, window.param).toBe(0);
}

// "hello" is 2 input tokens, max_tokens 100 → 2 × $1 + 100 × $2 per Mtok = 202 micro-USD reserved.
// Requests that must be counted whatever their timing use the `exact` model with usage [2, 100]:
// each then also spends 202, so a budget of 3 estimates admits 3 however the requests interleave.
const ESTIMATE = 202;

describe('exactness under concurrency (memory mode, real sockets)', () => {
  it('a key budget of 3 estimates: 30 concurrent slow requests → exactly 3 admitted; spend reconciled', async () => {
    const key = keyWith({ maxBudgetMicros: 3 * ESTIMATE });
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => post(key.secret, 'exact', { delayMs: 200, usage: [2, 100] })),
    );
    const statuses = responses.map((r) => r.status);
    await Promise.all(responses.map(drain));
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(27);
    await settledEverywhere(key);
    expect(spend.spendOf('key', key.keyId)?.spendMicros).toBe(3 * ESTIMATE);
  });

  it('a team budget shared by three keys: 30 concurrent over the keys → exactly 3 admitted', async () => {
    const first = keyWith({}, { maxBudgetMicros: 3 * ESTIMATE });
    const teamPolicy = h.source.policies.get(hashSecret(first.secret))!;
    const others = [0, 1].map(() => {
      const secret = h.newKey({ team: teamPolicy.team, org: teamPolicy.org });
      return secret;
    });
    const secrets = [first.secret, ...others];
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(secrets[i % 3]!, 'exact', { delayMs: 200, usage: [2, 100] })),
    );
    await Promise.all(responses.map(drain));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    await eventually(() => limits.inFlight === 0, { what: 'every ticket ended' });
    expect(spend.spendOf('team', first.teamId)).toEqual({ spendMicros: 3 * ESTIMATE, reservedMicros: 0 });
  });

  it('rpm 5 with upstream 500s: 5 admitted, all refunded, then 5 more are admitted', async () => {
    const key = keyWith({ rpm: 5 });
    const failing = await Promise.all(Array.from({ length: 20 }, () => post(key.secret, 'fail-500')));
    await Promise.all(failing.map(drain));
    expect(failing.filter((r) => r.status === 500)).toHaveLength(5);
    expect(failing.filter((r) => r.status === 429)).toHaveLength(15);
    await settledEverywhere(key);
    const ok = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(key.secret, 'ok', { stream: i % 2 === 0 })),
    );
    await Promise.all(ok.map(drain));
    expect(ok.filter((r) => r.status === 200)).toHaveLength(5);
    await settledEverywhere(key);
  });

  it('parallel cap 2: 20 concurrent endless streams → 2 admitted; aborting them frees both slots', async () => {
    const key = keyWith({ maxParallel: 2, maxBudgetMicros: 1_000_000 });
    const controller = new AbortController();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        post(key.secret, 'sse-forever', { stream: true, signal: controller.signal }),
      ),
    );
    const admitted = responses.filter((r) => r.status === 200);
    expect(admitted).toHaveLength(2);
    await Promise.all(responses.filter((r) => r.status !== 200).map(drain));
    // Read a little of each admitted stream, then leave mid-stream.
    for (const response of admitted) {
      const reader = response.body!.getReader();
      await reader.read();
    }
    controller.abort();
    await settledEverywhere(key);
    const next = await post(key.secret, 'ok');
    expect(next.status).toBe(200);
    await drain(next);
    await settledEverywhere(key);
  });

  it.each(MODELS)(
    'upstream %s × 12 concurrent (stream and not) under a budget: nothing leaks',
    async (model) => {
      const key = keyWith({ maxBudgetMicros: 50 * ESTIMATE, maxParallel: 6, rpm: 1000, tpm: 1_000_000 });
      const controller = new AbortController();
      const responses = Array.from({ length: 12 }, (_, i) =>
        post(key.secret, model, { stream: i % 2 === 0, signal: controller.signal, delayMs: 5 }).then(
          async (response) => ({ status: response.status, body: await drain(response) }),
          () => ({ status: 0, body: '' }),
        ),
      );
      // Endless streams are left by their clients after a while.
      const timer = setTimeout(() => controller.abort(), 300);
      const answers = await Promise.all(responses);
      clearTimeout(timer);
      for (const answer of answers)
        expect(answer.status !== 500 || model === 'fail-500', `${answer.status} ${answer.body}`).toBe(true);
      await settledEverywhere(key);
    },
  );

  it('max_tokens 1 beside max_completion_tokens 4000 reserves 4000: a budget of one such request admits one', async () => {
    // 2 input tokens + 4000 × $2/Mtok = 8,002 micro-USD; estimated from max_tokens (1), all 10 fit.
    const key = keyWith({ maxBudgetMicros: 8_002 });
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        post(key.secret, 'exact', {
          maxTokens: 1,
          delayMs: 200,
          usage: [2, 4000],
          extra: { max_completion_tokens: 4000 },
        }),
      ),
    );
    await Promise.all(responses.map(drain));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    await settledEverywhere(key);
  });

  it('40 KB of tools reserve their ~10,000 input tokens: a budget of one such request admits one', async () => {
    const tools = [
      { type: 'function', function: { name: 'f', description: 'x'.repeat(40_000), parameters: {} } },
    ];
    // ≥ 10,000 input tokens × $1/Mtok + 100 × $2/Mtok ≥ 10,200 micro-USD each; before, 202.
    const key = keyWith({ maxBudgetMicros: 12_000 });
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        post(key.secret, 'exact', { delayMs: 200, usage: [10_100, 100], extra: { tools } }),
      ),
    );
    await Promise.all(responses.map(drain));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    await settledEverywhere(key);
  });
});
