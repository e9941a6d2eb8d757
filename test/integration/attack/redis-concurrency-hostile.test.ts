/**
 * Attack round, Redis mode: two gateway replicas (each a harness served on a real socket with its
 * own Redis connection, LimitsAdmission over RedisCounterStore + RedisSpendStore under one prefix)
 * in front of a hostile upstream. Concurrent requests spread over both: a budget admits no more
 * than it holds (Redis may refuse conservatively, never overshoot), a parallel cap holds across
 * replicas, and every way a request ends (errors, aborts mid-stream, answers without usage or
 * with absurd usage) leaves no reservation or slot behind; the shared spend equals the costs both
 * replicas recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { hashSecret } from '../../../src/keys/secret.js';
import { NO_LIMITS, type Limits } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import type { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { eventually } from '../../helpers/eventually.js';
import { targetRoute } from '../../helpers/gateway-fixtures.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';
import {
  deploymentNames,
  noRedisMessage,
  redisLimitsAdmission,
  uniquePrefix,
  useDeployment,
} from '../../helpers/redis-targets.js';
import { startHostileUpstream, type HostileUpstream } from './hostile-upstream.js';

const MODELS = [
  'ok',
  'exact',
  'no-usage',
  'huge-usage',
  'negative-usage',
  'bad-json',
  'fail-500',
  'sse-ok',
  'sse-no-done',
  'sse-cut',
  'sse-forever',
  'huge-headers',
  'short-body',
  'json-trickle',
];
// The single-server deployment only: the cluster path of these scripts has suites of its own.
const names = deploymentNames().filter((name) => name !== 'cluster');
if (names.length === 0) console.warn(noRedisMessage('Redis attack: concurrency'));

// "hello" is 2 input tokens, max_tokens 100 → 2 × $1 + 100 × $2 per Mtok = 202 micro-USD reserved.
const ESTIMATE = 202;

describe.skipIf(names.length === 0).each(names)('two replicas on %s Redis', (name) => {
  const deployment = useDeployment(name);
  const prefix = uniquePrefix('attack');
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 10, 0, 0));
  let upstream: HostileUpstream;
  let replicas: { h: Harness; limits: LimitsAdmission }[] = [];
  let nextTeam = 0;

  beforeAll(async () => {
    upstream = await startHostileUpstream();
    for (let i = 0; i < 2; i++) {
      const limits = redisLimitsAdmission(await deployment.connect(), prefix, clock);
      const h = await startHarness({
        clock,
        admission: limits,
        upstreamTimeoutMs: 5_000,
        extraTargets: MODELS.map((model) => targetRoute(model, `${upstream.url}/v1`)),
      });
      replicas.push({ h, limits });
    }
  }, 60_000);
  afterAll(async () => {
    for (const { h } of replicas) await h.close();
    replicas = [];
    await upstream?.close();
  });

  /** A key (and its own team) known to both replicas. */
  function keyWith(key: Partial<Limits>, team: Partial<Limits> = {}, teamId?: string) {
    const id = teamId ?? `team_attack_${nextTeam++}`;
    const secret = replicas[0]!.h.newKey({
      team: { id, limits: { ...NO_LIMITS, ...team }, spendMicros: 0 },
      org: { id: `org_${prefix}`, limits: NO_LIMITS, spendMicros: 0 },
    });
    const hash = hashSecret(secret);
    const policy = replicas[0]!.h.source.policies.get(hash)!;
    policy.key = { ...policy.key, limits: { ...NO_LIMITS, ...key } };
    replicas[1]!.h.source.policies.set(hash, policy);
    return { secret, policy };
  }

  function post(
    i: number,
    secret: string,
    model: string,
    options: { stream?: boolean; delayMs?: number; usage?: [number, number]; signal?: AbortSignal } = {},
  ): Promise<{ status: number; body: string }> {
    return fetch(`${replicas[i % 2]!.h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${secret}`,
        'x-mock-delay-ms': String(options.delayMs ?? 5),
        'x-mock-usage': (options.usage ?? [0, 0]).join(','),
      },
      body: JSON.stringify({
        model,
        stream: options.stream ?? false,
        max_tokens: 100,
        messages: [{ role: 'user', content: 'hello' }],
      }),
      signal: options.signal,
    }).then(
      async (response) => ({ status: response.status, body: await response.text().catch(() => '') }),
      () => ({ status: 0, body: '' }),
    );
  }

  async function nothingLeft(policy: ResolvedKeyPolicy): Promise<void> {
    await eventually(() => replicas.every(({ limits }) => limits.inFlight === 0), {
      what: 'every ticket ended',
      timeoutMs: 10_000,
    });
    // Settlements may share one Redis call with others: give them their turn.
    await eventually(
      async () => {
        const live = await replicas[0]!.limits.liveCounters(policy);
        return live.budgets.every((b) => b.reserved_micros === 0);
      },
      { what: 'no reservation left in Redis' },
    );
    const live = await replicas[1]!.limits.liveCounters(policy);
    for (const window of live.windows)
      if (window.param.endsWith('_parallel')) expect(window.used, window.param).toBe(0);
    const recorded = replicas
      .flatMap(({ h }) => h.usage)
      .filter((u) => u.keyId === policy.key.id)
      .reduce((sum, u) => sum + u.spendMicros, 0);
    const key = live.budgets.find((b) => b.scope === 'key')!;
    if (policy.key.limits.maxBudgetMicros !== null) expect(key.spend_micros, 'shared spend').toBe(recorded);
  }

  it('a key budget of 3 estimates: 30 concurrent over both replicas → at most 3 admitted, never over', async () => {
    const { secret, policy } = keyWith({ maxBudgetMicros: 3 * ESTIMATE });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(i, secret, 'exact', { delayMs: 200, usage: [2, 100] })),
    );
    const admitted = answers.filter((a) => a.status === 200).length;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(3);
    await nothingLeft(policy);
  });

  it('an org budget shared by keys of two teams: 30 concurrent over both replicas → at most 3 admitted', async () => {
    const first = keyWith({});
    const orgPolicy = (p: ResolvedKeyPolicy): ResolvedKeyPolicy => ({
      ...p,
      org: {
        id: `org_shared_${prefix}`,
        limits: { ...NO_LIMITS, maxBudgetMicros: 3 * ESTIMATE },
        spendMicros: 0,
      },
    });
    const second = keyWith({});
    const secrets = [first, second].map(({ secret, policy }) => {
      const shared = orgPolicy(policy);
      for (const { h } of replicas) h.source.policies.set(hashSecret(secret), shared);
      return { secret, policy: shared };
    });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        post(i, secrets[Math.floor(i / 2) % 2]!.secret, 'exact', { delayMs: 200, usage: [2, 100] }),
      ),
    );
    const admitted = answers.filter((a) => a.status === 200).length;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(3);
    await nothingLeft(secrets[0]!.policy);
    const org = (await replicas[1]!.limits.liveCounters(secrets[1]!.policy)).budgets.find(
      (b) => b.scope === 'org',
    )!;
    expect(org).toMatchObject({ spend_micros: admitted * ESTIMATE, reserved_micros: 0 });
  });

  it('parallel cap 2 over both replicas: endless streams, clients leave, both slots come back', async () => {
    const { secret, policy } = keyWith({ maxParallel: 2, maxBudgetMicros: 1_000_000 });
    const controller = new AbortController();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${replicas[i % 2]!.h.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
          body: JSON.stringify({ model: 'sse-forever', stream: true, messages: [] }),
          signal: controller.signal,
        }),
      ),
    );
    const admitted = responses.filter((r) => r.status === 200);
    expect(admitted.length).toBeLessThanOrEqual(2);
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    for (const response of responses.filter((r) => r.status !== 200)) await response.text();
    for (const response of admitted) await response.body!.getReader().read();
    controller.abort();
    await nothingLeft(policy);
    expect((await post(0, secret, 'ok')).status).toBe(200);
    expect((await post(1, secret, 'ok')).status).toBe(200);
    await nothingLeft(policy);
  });

  it.each(MODELS)('upstream %s × 12 concurrent over both replicas: nothing leaks', async (model) => {
    const { secret, policy } = keyWith(
      { maxBudgetMicros: 50 * ESTIMATE, maxParallel: 6, rpm: 1000 },
      { maxBudgetMicros: 100 * ESTIMATE, maxParallel: 8 },
    );
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 300);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(i, secret, model, { stream: i % 4 < 2, signal: controller.signal }),
      ),
    );
    clearTimeout(timer);
    for (const answer of answers)
      expect(answer.status !== 500 || model === 'fail-500', `${answer.status} ${answer.body}`).toBe(true);
    await nothingLeft(policy);
  });
});
