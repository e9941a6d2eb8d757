import { describe, expect, it } from 'vitest';
import { percentile, ratio, Samples, summarize } from '../../../bench/stats.js';

describe('bench statistics', () => {
  it('percentile is nearest-rank: p99 of 1..100 is 99, p50 is 50, p100 is the max', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile(sorted, 0)).toBe(1);
  });

  it('a single slow sample among few is the p99 (tails are not averaged away)', () => {
    const sorted = [1, 1, 1, 1, 1, 1, 1, 1, 1, 50];
    expect(percentile(sorted, 99)).toBe(50);
    expect(percentile(sorted, 50)).toBe(1);
  });

  it('percentile of no samples is undefined, and summarize reports nulls, not zeros', () => {
    expect(percentile([], 50)).toBeUndefined();
    expect(summarize([])).toEqual({
      count: 0,
      meanMs: null,
      p50Ms: null,
      p90Ms: null,
      p99Ms: null,
      maxMs: null,
    });
  });

  it('Samples keeps every value past its initial capacity and sub-millisecond precision', () => {
    const samples = new Samples();
    for (let i = 0; i < 5000; i++) samples.push((5000 - i) / 1000);
    expect(samples.count).toBe(5000);
    const summary = summarize(samples);
    expect(summary.p50Ms).toBeCloseTo(2.5, 6);
    expect(summary.maxMs).toBe(5);
    expect(summary.meanMs).toBeCloseTo(2.5005, 6);
  });

  it('ratio is null when the reference is missing or zero', () => {
    expect(ratio(80, 100)).toBe(0.8);
    expect(ratio(80, 0)).toBeNull();
    expect(ratio(80, null)).toBeNull();
    expect(ratio(null, 100)).toBeNull();
  });
});
