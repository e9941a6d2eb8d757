import { describe, expect, it } from 'vitest';
import { cpuPerRequest } from '../../../bench/context.js';
import { mergeResults, type LoadResult } from '../../../bench/load.js';
import { cpuMs } from '../../../bench/processes.js';
import { Samples, summarize } from '../../../bench/stats.js';

const onLinux = process.platform === 'linux';

function result(requests: number, cpu?: Record<string, number>): LoadResult {
  const samples = new Samples();
  for (let i = 0; i < requests; i++) samples.push(1);
  return {
    requests,
    durationS: 1,
    rps: requests,
    latency: summarize(samples),
    errors: 0,
    statusCounts: { 200: requests },
    samples,
    ...(cpu === undefined ? {} : { cpuMs: cpu }),
  };
}

describe('bench CPU per request', () => {
  it.runIf(onLinux)('reads the CPU time a process used, as node itself counts it', () => {
    const before = cpuMs(process.pid);
    expect(before).not.toBeNull();
    const start = process.cpuUsage();
    const usedMs = (): number => {
      const { user, system } = process.cpuUsage(start);
      return (user + system) / 1000;
    };
    while (usedMs() < 200); // 200 ms of this process's CPU, however long the wall clock takes
    const procDelta = cpuMs(process.pid)! - before!;
    const nodeDelta = usedMs();
    // /proc counts in 10 ms ticks: within two ticks of node's own figure each way.
    expect(procDelta).toBeGreaterThanOrEqual(nodeDelta - 20);
    expect(procDelta).toBeLessThanOrEqual(nodeDelta + 20);
  });

  it('a process that is gone reads as null', () => {
    expect(cpuMs(2 ** 22 + 12345)).toBeNull();
  });

  it('sums CPU over merged rounds and divides by the responses', () => {
    const merged = mergeResults([result(1000, { gateway: 150 }), result(3000, { gateway: 450, admin: 20 })]);
    expect(merged.cpuMs).toEqual({ gateway: 600, admin: 20 });
    expect(cpuPerRequest(merged)).toEqual({ gatewayCpuUsPerRequest: 150, adminCpuUsPerRequest: 5 });
    expect(cpuPerRequest(result(10))).toEqual({});
    expect(mergeResults([result(5)]).cpuMs).toBeUndefined();
  });
});
