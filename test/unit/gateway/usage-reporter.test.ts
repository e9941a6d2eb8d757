import { describe, expect, it } from 'vitest';
import type { UsageReport } from '../../../src/usage/usage-report.js';
import { UsageReporter, type UsageSink } from '../../../gateway/usage/usage-reporter.js';
import { UsageRefusedError, refusedForGood } from '../../../gateway/usage/usage-refusal.js';

/** Applies each batch id once, like the admin plane; can fail before or after applying. */
class RecordingSink implements UsageSink {
  readonly attempts: UsageReport[] = [];
  readonly applied = new Map<string, UsageReport>();
  mode: 'ok' | 'fail' | 'fail_after_apply' = 'ok';
  async postUsage(report: UsageReport): Promise<{ applied: boolean }> {
    this.attempts.push(structuredClone(report));
    if (this.mode === 'fail') throw new Error('admin down');
    const fresh = !this.applied.has(report.batchId);
    if (fresh) this.applied.set(report.batchId, structuredClone(report));
    if (this.mode === 'fail_after_apply') throw new Error('answer lost');
    return { applied: fresh };
  }
  totalRequests(): number {
    let total = 0;
    for (const report of this.applied.values()) for (const item of report.items) total += item.requests;
    return total;
  }
}

describe('UsageReporter', () => {
  it('keeps one item per key × target × tag set, found by key id without an id string (issue 15)', async () => {
    const sink = new RecordingSink();
    const reporter = new UsageReporter({ sink, gatewayId: 'gw_1' });
    reporter.record('key_a', 'm1', 1, 1, 1, 1000);
    reporter.record('key_a', 'm2', 2, 2, 2, 1001);
    reporter.record('key_a', 'm1', 3, 3, 3, 1002, ['x']);
    reporter.record('key_a', 'm1', 4, 4, 4, 1003);
    reporter.record('key_a', 'm2', 5, 5, 5, 1004);
    reporter.record('key_a', 'm1', 6, 6, 6, 1005, ['x']);
    reporter.record('key_a', 'm1', 7, 7, 7, 1006, []);
    reporter.record('key_b', 'm2', 8, 8, 8, 1007);
    await reporter.flush();
    const item = (
      keyId: string,
      target: string,
      requests: number,
      n: number,
      at: number,
      tags?: string[],
    ) => ({
      keyId,
      target,
      requests,
      inputTokens: n,
      outputTokens: n,
      spendMicros: n,
      lastUsedAt: at,
      ...(tags === undefined ? {} : { tags }),
    });
    // In recording order of each item's first request.
    expect(sink.attempts[0]!.items).toEqual([
      item('key_a', 'm1', 2, 5, 1003),
      item('key_a', 'm2', 2, 7, 1004),
      item('key_a', 'm1', 2, 9, 1005, ['x']),
      item('key_a', 'm1', 1, 7, 1006, []),
      item('key_b', 'm2', 1, 8, 1007),
    ]);
  });

  it('aggregates per key and target into one batch with an increasing batchSeq', async () => {
    const sink = new RecordingSink();
    const sealed: number[] = [];
    const reporter = new UsageReporter({ sink, gatewayId: 'gw_1', onSeal: (seq) => sealed.push(seq) });
    reporter.record('key_a', 'm', 10, 5, 100, 1000);
    reporter.record('key_a', 'm', 1, 1, 10, 2000);
    reporter.record('key_b', 'm', 2, 2, 20, 1500);
    await reporter.flush();
    reporter.record('key_a', 'm', 1, 1, 1, 3000);
    await reporter.flush();
    expect(sink.attempts.map((a) => a.batchSeq)).toEqual([1, 2]);
    expect(sealed).toEqual([1, 2]);
    expect(sink.attempts[0]!.gatewayId).toBe('gw_1');
    expect(sink.attempts[0]!.items).toContainEqual({
      keyId: 'key_a',
      target: 'm',
      requests: 2,
      inputTokens: 11,
      outputTokens: 6,
      spendMicros: 110,
      lastUsedAt: 2000,
    });
    expect(await reporter.flush()).toBeUndefined();
    expect(sink.attempts).toHaveLength(2);
  });

  it('a failed send is retried with the same batch id and seq; nothing is lost or counted twice', async () => {
    const sink = new RecordingSink();
    const reporter = new UsageReporter({ sink, gatewayId: 'gw_1' });
    reporter.record('key_a', 'm', 1, 1, 1, 1);
    sink.mode = 'fail_after_apply'; // applied, but the answer was lost
    await reporter.flush();
    sink.mode = 'fail';
    reporter.record('key_a', 'm', 1, 1, 1, 2);
    await reporter.flush();
    sink.mode = 'ok';
    await reporter.flush();
    const ids = sink.attempts.map((a) => `${a.batchId}#${a.batchSeq}`);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[1]).toBe(ids[2]);
    expect(sink.attempts[3]!.batchSeq).toBe(2);
    expect(sink.totalRequests()).toBe(2);
    expect(reporter.pendingItems).toBe(0);
  });

  it('stop() sends what is left', async () => {
    const sink = new RecordingSink();
    const reporter = new UsageReporter({ sink, gatewayId: 'gw_1' });
    reporter.start(60_000);
    reporter.record('key_a', 'm', 1, 1, 1, 1);
    await reporter.stop();
    expect(sink.totalRequests()).toBe(1);
  });

  it('a batch refused for good that cannot be set aside stays first in line: nothing is dropped', async () => {
    const sent: string[] = [];
    let refuse = true;
    const sink: UsageSink = {
      postUsage: async (report) => {
        if (refuse) throw new UsageRefusedError(400, '{"error":{"code":"invalid_request"}}');
        sent.push(report.batchId);
        return { applied: true };
      },
    };
    let diskFull = true;
    const setAside: string[] = [];
    const errors: unknown[] = [];
    const reporter = new UsageReporter({
      sink,
      gatewayId: 'gw_1',
      onError: (error) => errors.push(error),
      setAside: (report) => {
        if (diskFull) throw new Error('ENOSPC');
        setAside.push(report.batchId);
      },
    });
    reporter.record('key_a', 'm', 1, 1, 1, 1);
    await reporter.flush();
    expect(reporter.unsentBatches).toBe(1);
    expect(reporter.refusedBatches).toBe(0);
    expect((errors[0] as Error).message).toBe('ENOSPC');
    diskFull = false;
    reporter.record('key_b', 'm', 1, 1, 1, 2);
    await reporter.flush(); // the first is set aside now; the second is refused and set aside too
    expect(setAside).toHaveLength(2);
    refuse = false;
    reporter.record('key_c', 'm', 1, 1, 1, 3);
    await reporter.flush();
    expect(sent).toHaveLength(1);
    expect(reporter.refusedBatches).toBe(2);
    expect(reporter.unsentBatches).toBe(0);
  });

  it('refused for good: 4xx other than 401, 403, 404, 408, 425 and 429', () => {
    expect([400, 409, 413, 415, 422].every(refusedForGood)).toBe(true);
    expect([200, 401, 403, 404, 408, 425, 429, 500, 502, 503, 504].some(refusedForGood)).toBe(false);
  });
});
