/**
 * Attack round: a day budget crossed by requests in flight at midnight UTC (PeriodSpendStore, as
 * gateway/main.ts wires it). A request's cost belongs to the period it was admitted in: the new
 * day starts with its whole budget while yesterday's requests are still running, and when they
 * end nothing stays reserved in either day.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PeriodSpendStore } from '../../../src/budget/period-spend-store.js';
import { ManualClock } from '../../../src/clock.js';
import { hashSecret } from '../../../src/keys/secret.js';
import { NO_LIMITS } from '../../../src/policy/limits.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { eventually } from '../../helpers/eventually.js';
import { targetRoute } from '../../helpers/gateway-fixtures.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';
import { startHostileUpstream, type HostileUpstream } from './hostile-upstream.js';

const clock = new ManualClock(Date.UTC(2026, 5, 1, 23, 59, 59));
const spend = new PeriodSpendStore(clock);
const limits = new LimitsAdmission({ spend, clock });
let upstream: HostileUpstream;
let h: Harness;

beforeAll(async () => {
  upstream = await startHostileUpstream();
  h = await startHarness({
    clock,
    admission: limits,
    extraTargets: [targetRoute('exact', `${upstream.url}/v1`)],
  });
});
afterAll(async () => {
  await h.close();
  await upstream.close();
});

// "hello" = 2 input tokens + max_tokens 100: 202 micro-USD reserved, and spent (usage [2, 100]).
const ESTIMATE = 202;

const post = (secret: string, delayMs: number) =>
  fetch(`${h.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${secret}`,
      'x-mock-delay-ms': String(delayMs),
      'x-mock-usage': '2,100',
    },
    body: JSON.stringify({ model: 'exact', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] }),
  }).then(async (r) => ({ status: r.status, body: await r.text() }));

it('requests in flight at midnight: the new day admits its whole budget; nothing stays reserved', async () => {
  const secret = h.newKey({
    team: {
      id: 'team_day',
      limits: { ...NO_LIMITS, maxBudgetMicros: 3 * ESTIMATE, budgetPeriod: 'day' },
      spendMicros: 0,
    },
  });
  const policy = h.source.policies.get(hashSecret(secret))!;
  // Day 1: 10 concurrent slow requests, 3 fit.
  const dayOne = Array.from({ length: 10 }, () => post(secret, 600));
  await eventually(() => limits.inFlight === 3, { what: 'three admitted on day 1' });
  // ... and the 7 others refused before the clock moves (they must not reach day 2's budget).
  let refused = 0;
  for (const answer of dayOne) void answer.then((a) => (refused += a.status === 429 ? 1 : 0));
  await eventually(() => refused === 7, { what: 'seven refused on day 1' });
  clock.set(Date.UTC(2026, 5, 2, 0, 0, 1));
  // Day 2, while day 1's three are still running: 10 more, 3 fit.
  const dayTwo = await Promise.all(Array.from({ length: 10 }, () => post(secret, 50)));
  expect(dayTwo.filter((a) => a.status === 200)).toHaveLength(3);
  expect((await Promise.all(dayOne)).filter((a) => a.status === 200)).toHaveLength(3);
  await eventually(() => limits.inFlight === 0, { what: 'every ticket ended' });
  const live = await limits.liveCounters(policy);
  const team = live.budgets.find((b) => b.scope === 'team')!;
  expect(team.reserved_micros).toBe(0);
  // Day 2's spend is its own three requests only, and day 2 is full.
  expect(team.spend_micros).toBe(3 * ESTIMATE);
  expect((await post(secret, 0)).status).toBe(429);
});
