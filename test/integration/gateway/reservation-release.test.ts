/**
 * Issue 10, item 1: every path out of the proxy after admission ends the ticket. A malformed body
 * is refused before admission; a throw injected at each step after admission releases the
 * reservation (team budget back to 0 reserved, no ticket open), and the team's budget still
 * admits afterwards. Real LimitsAdmission and MemorySpendStore behind the gateway.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemorySpendStore } from '../../../src/budget/memory-spend-store.js';
import { NO_LIMITS } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import type { UpstreamClient } from '../../../gateway/proxy/upstream-client.js';
import { eventually } from '../../helpers/eventually.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

type Fault =
  | 'decision'
  | 'credential'
  | 'upstream-throws'
  | 'answer-unreadable'
  | 'render-json'
  | 'render-stream'
  | 'metrics'
  | 'record';

let fault: Fault | undefined;
const errors: { error: unknown; requestId: string }[] = [];
const spend = new MemorySpendStore();
const limits = new LimitsAdmission({ spend });
let h: Harness;

// 4096 output tokens (the harness's KEYGATE_MAX_OUTPUT_TOKENS) at $2/Mtok ≈ 8,200 micro-USD per
// request: a team budget of 10,000 fits one request at a time, never two.
const TEAM_BUDGET = 10_000;

beforeAll(async () => {
  h = await startHarness({
    admission: limits,
    deps: (deps) => {
      const real = deps.upstream;
      const upstream = {
        post: async (...args: Parameters<UpstreamClient['post']>) => {
          if (fault === 'upstream-throws') throw new TypeError('injected: upstream client bug');
          const answer = await real.post(...args);
          if (fault === 'answer-unreadable') return { ...answer, body: undefined, stream: undefined };
          if (fault === 'render-json' || fault === 'render-stream')
            return { ...answer, headers: { ...answer.headers, 'content-type': 'text/plain\u0000' } };
          return answer;
        },
        close: () => real.close(),
      } as unknown as UpstreamClient;
      const decisionSeconds = deps.metrics.decisionSeconds.bind(deps.metrics);
      deps.metrics.decisionSeconds = (seconds) => {
        if (fault === 'decision') throw new Error('injected: decision metrics');
        decisionSeconds(seconds);
      };
      const outcome = deps.metrics.outcome.bind(deps.metrics);
      deps.metrics.outcome = (code) => {
        if (fault === 'metrics' && code === 'ok') throw new Error('injected: metrics');
        outcome(code);
      };
      return {
        ...deps,
        upstream,
        credential: (name) => {
          if (fault === 'credential') throw new Error('injected: credential lookup');
          return deps.credential(name);
        },
        usage: {
          record: (...args) => {
            if (fault === 'record') throw new Error('injected: usage record');
            deps.usage.record(...args);
          },
        },
        onError: (error, requestId) => errors.push({ error, requestId }),
      };
    },
  });
});
afterAll(() => h.close());
beforeEach(() => {
  fault = undefined;
  errors.length = 0;
});

function teamKey(): string {
  return h.newKey({
    team: { id: 'team_budget', limits: { ...NO_LIMITS, maxBudgetMicros: TEAM_BUDGET }, spendMicros: 0 },
  });
}

const post = (key: string, body: string | object) =>
  fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const chat = (stream = false) => ({
  model: 'gpt-test',
  max_tokens: 4096,
  stream,
  messages: [{ role: 'user', content: 'hello' }],
});

async function expectNothingReserved(): Promise<void> {
  await eventually(() => limits.inFlight === 0, { what: 'every ticket ended' });
  expect(spend.spendOf('team', 'team_budget')?.reservedMicros ?? 0).toBe(0);
}

describe('a reservation is never leaked', () => {
  it('a 5,000-deep body with a large max_tokens → 400, and the team budget still admits afterwards', async () => {
    const key = teamKey();
    const deep = `{"model":"gpt-test","max_tokens":450000,"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    for (let i = 0; i < 3; i++) {
      const response = await post(key, deep);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    await expectNothingReserved();
    const after = await post(key, chat());
    expect(after.status).toBe(200);
    await after.arrayBuffer();
    await expectNothingReserved();
  });

  // [step, streamed request, status the client gets]
  it.each<[Fault, boolean, number]>([
    ['decision', false, 500],
    ['credential', false, 500],
    ['upstream-throws', false, 502],
    ['answer-unreadable', false, 500],
    ['render-json', false, 500],
    ['render-stream', true, 500],
    ['metrics', false, 500],
    ['metrics', true, 500],
    ['record', false, 200],
  ])(
    'a throw injected at %s (stream: %s) ends the ticket; the next request is admitted',
    async (step, stream, status) => {
      const key = teamKey();
      fault = step;
      const response = await post(key, chat(stream));
      await response.arrayBuffer();
      expect(response.status).toBe(status);
      fault = undefined;
      await expectNothingReserved();
      // A 500 is logged with the request id the client saw (issue 10, item 16).
      if (status === 500)
        expect(errors.map((e) => e.requestId)).toContain(response.headers.get('x-request-id'));
      if (step === 'record') await eventually(() => errors.length > 0, { what: 'the record failure logged' });
      const next = await post(key, chat());
      expect(next.status).toBe(200);
      await next.arrayBuffer();
      await expectNothingReserved();
    },
  );

  it('the same through Hono (app.request): a throw after admission releases the reservation', async () => {
    const key = teamKey();
    fault = 'credential';
    const response = await h.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(chat()),
    });
    expect(response.status).toBe(500);
    expect(errors.map((e) => e.requestId)).toContain(response.headers.get('x-request-id'));
    fault = undefined;
    await expectNothingReserved();
  });
});
