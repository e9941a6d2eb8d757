/**
 * max_parallel_requests in Redis mode (issue 14 item 3 on issue 12's shared counters): two
 * gateways' worth of admissions (two LimitsAdmission instances, each with its own connection, on
 * one Redis) never hold more requests in flight than a key's or a team's cap under 200-way
 * concurrency, and every way a request ends (settle, release, abort) frees its slot on the shared
 * counter, so the caps admit again afterwards.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { AdmissionTicket } from '../../../src/policy/admission.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import {
  deploymentNames,
  noRedisMessage,
  redisLimitsAdmission,
  uniquePrefix,
  useDeployment,
} from '../../helpers/redis-targets.js';
import { MID_MORNING, TARGET, policy } from '../../unit/ratelimit/fixtures.js';

const names = deploymentNames();
if (names.length === 0) console.warn(noRedisMessage('Redis parallel caps'));

const request = (p: ResolvedKeyPolicy) => ({
  policy: p,
  target: TARGET,
  estimatedInputTokens: 10,
  maxOutputTokens: 10,
});
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(names.length === 0).each(names)('parallel caps on %s Redis', (name) => {
  const deployment = useDeployment(name);
  const prefix = uniquePrefix('parallel');
  const replica = async (): Promise<LimitsAdmission> =>
    redisLimitsAdmission(await deployment.connect(), prefix, new ManualClock(MID_MORNING));

  it('200 requests in waves of 20 concurrent over two replicas: never more than key cap 3 / team cap 4 in flight; every exit frees its slot', async () => {
    const replicas = [await replica(), await replica()];
    const ids = { teamId: `team_${name}`, orgId: `org_${name}` };
    const a = policy({ ...ids, keyId: 'key_a', key: { maxParallel: 3 }, team: { maxParallel: 4 } });
    const b = policy({ ...ids, keyId: 'key_b', team: { maxParallel: 4 } });
    const inFlight = { key_a: 0, team: 0 };
    const peak = { key_a: 0, team: 0 };
    const refused: Record<string, number> = {};
    let admitted = 0;
    const ends = ['settle', 'release', 'abort'] as const;
    // Ten waves of 20 concurrent requests, each wave sent when the one before has ended, so slots
    // are freed and taken again however slow the machine is (a time spread alone let all 200
    // admissions reach Redis before the first end under load: 4 admitted).
    const WAVE = 20;
    const run = async (i: number): Promise<void> => {
      const admission = replicas[i % 2]!;
      const p = i % 3 === 0 ? b : a;
      const outcome = await admission.admit(request(p));
      if (!outcome.ok) {
        refused[outcome.param ?? ''] = (refused[outcome.param ?? ''] ?? 0) + 1;
        return;
      }
      admitted++;
      // Counted here after the shared counter took it and uncounted before it gives it back,
      // so these figures never exceed what the counters hold.
      inFlight.team++;
      if (p === a) inFlight.key_a++;
      peak.team = Math.max(peak.team, inFlight.team);
      peak.key_a = Math.max(peak.key_a, inFlight.key_a);
      await tick(1 + (i % 4));
      inFlight.team--;
      if (p === a) inFlight.key_a--;
      await end(admission, outcome.ticket, ends[i % 3]!);
    };
    for (let start = 0; start < 200; start += WAVE) {
      await Promise.all(Array.from({ length: WAVE }, (_, j) => run(start + j)));
    }
    expect(peak.key_a).toBeLessThanOrEqual(3);
    expect(peak.team).toBeLessThanOrEqual(4);
    expect(peak.team).toBe(4); // the cap was reached, not merely never approached
    expect(admitted).toBeGreaterThan(4); // slots were freed and reused during the run
    expect(admitted + (refused.key_parallel ?? 0) + (refused.team_parallel ?? 0)).toBe(200);
    expect(Object.keys(refused).sort()).toEqual(
      Object.keys(refused)
        .filter((param) => param === 'key_parallel' || param === 'team_parallel')
        .sort(),
    );
    // Every exit freed its slot: both replicas read 0 in flight, and the caps admit in full again.
    for (const admission of replicas) {
      const usage = await admission.windowUsage(a);
      expect(usage.filter((entry) => entry.param.endsWith('_parallel'))).toEqual([
        expect.objectContaining({ param: 'key_parallel', used: 0, limit: 3 }),
        expect.objectContaining({ param: 'team_parallel', used: 0, limit: 4 }),
      ]);
    }
    const again = await Promise.all(Array.from({ length: 6 }, (_, i) => replicas[i % 2]!.admit(request(b))));
    expect(again.filter((outcome) => outcome.ok)).toHaveLength(4);
    expect(again.filter((outcome) => !outcome.ok && outcome.param === 'team_parallel')).toHaveLength(2);
    for (const [i, outcome] of again.entries())
      if (outcome.ok) await replicas[i % 2]!.release(outcome.ticket);
  });
});

async function end(
  admission: LimitsAdmission,
  ticket: AdmissionTicket,
  how: 'settle' | 'release' | 'abort',
): Promise<void> {
  if (how === 'settle') await admission.settle(ticket, { inputTokens: 10, outputTokens: 5 });
  else if (how === 'release') await admission.release(ticket);
  else await admission.abort(ticket);
}
