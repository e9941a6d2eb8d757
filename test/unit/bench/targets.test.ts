import { describe, expect, it } from 'vitest';
import { skippedRow, type Measurement } from '../../../bench/measurement.js';
import { evaluateTargets } from '../../../bench/targets.js';

function row(id: string, fields: Partial<Measurement> = {}): Measurement {
  return {
    id,
    scenario: id,
    title: id,
    kind: 'gateway',
    connections: 50,
    durationS: 10,
    requests: 1000,
    rps: 1000,
    p50Ms: 1,
    p90Ms: 2,
    p99Ms: 3,
    errors: 0,
    expectedStatus: 200,
    ...fields,
  };
}

const target = (rows: Measurement[], id: string) => evaluateTargets(rows).find((check) => check.id === id)!;

describe('bench targets', () => {
  it('hot key passes at 80 % of the bare proxy and misses just below, saying by how much', () => {
    expect(
      target(
        [row('hot-key', { rps: 800 }), row('baseline-bare-proxy-paired', { rps: 1000 })],
        'hot-key-vs-bare-proxy',
      ).pass,
    ).toBe(true);
    const miss = target(
      [row('hot-key', { rps: 700 }), row('baseline-bare-proxy-paired', { rps: 1000 })],
      'hot-key-vs-bare-proxy',
    );
    expect(miss.pass).toBe(false);
    expect(miss.measured).toContain('70 %');
    expect(miss.note).toContain('10 points');
  });

  it('a missing or skipped row is "not measured" (null), never a pass', () => {
    expect(target([row('hot-key')], 'hot-key-vs-bare-proxy').pass).toBeNull();
    const skipped = target(
      [
        row('hot-key'),
        skippedRow(
          { id: 'baseline-bare-proxy-paired', scenario: 'hot-key', title: 'bare', kind: 'baseline' },
          'no build',
        ),
      ],
      'hot-key-vs-bare-proxy',
    );
    expect(skipped.pass).toBeNull();
    expect(skipped.note).toContain('no build');
  });

  it('added latency compares the c=1 gateway row against direct: 0.5 ms p50 and 1 ms p99', () => {
    const rows = [row('latency-c1-gateway', { extra: { addedP50Ms: 0.4, addedP99Ms: 1.2 } })];
    expect(target(rows, 'added-latency-p50').pass).toBe(true);
    expect(target(rows, 'added-latency-p99').pass).toBe(false);
  });

  it('revocation misses when any trial was never refused, whatever the percentiles', () => {
    const failed = target(
      [
        row('revocation-push', {
          p99Ms: 10,
          errors: 1,
          requests: 50,
          extra: { firstFailure: 'still accepted' },
        }),
      ],
      'revocation-push-p99',
    );
    expect(failed.pass).toBe(false);
    expect(failed.measured).toContain('1 of 50 trials failed');
    expect(target([row('revocation-push', { p99Ms: 49, requests: 50 })], 'revocation-push-p99').pass).toBe(
      true,
    );
    expect(target([row('revocation-pull', { p99Ms: 1150, requests: 50 })], 'revocation-pull-p99').pass).toBe(
      false,
    );
  });

  it('memory is only judged with 100,000 keys loaded', () => {
    expect(target([row('memory', { extra: { rssMb: 120, keys: 100_000 } })], 'memory-rss').pass).toBe(true);
    expect(target([row('memory', { extra: { rssMb: 320, keys: 100_000 } })], 'memory-rss').pass).toBe(false);
    expect(target([row('memory', { extra: { rssMb: 120, keys: 10_000 } })], 'memory-rss').pass).toBeNull();
    expect(target([row('memory', { extra: { rssMb: 210, keys: 100_000 } })], 'memory-rss').pass).toBe(false);
  });

  it('issue 15: cold misses at ≥ 10,000 rps; a preload of 100,000 keys in ≤ 5 s (fewer keys: not judged)', () => {
    expect(target([row('cold-misses', { rps: 10_500 })], 'cold-misses-rps').pass).toBe(true);
    expect(target([row('cold-misses', { rps: 3_777 })], 'cold-misses-rps').pass).toBe(false);
    const preload = (seconds: number, keys = 100_000) =>
      target([row('preload', { extra: { preloadSeconds: seconds, keys } })], 'preload-seconds').pass;
    expect(preload(4.2)).toBe(true);
    expect(preload(5.5)).toBe(false);
    expect(preload(1, 5_000)).toBeNull();
  });

  it('cold misses on /v1/models (the key loads alone) at ≥ 10,000 rps and no errors', () => {
    expect(target([row('cold-loads', { rps: 12_000 })], 'cold-loads-rps').pass).toBe(true);
    expect(target([row('cold-loads', { rps: 9_000 })], 'cold-loads-rps').pass).toBe(false);
    expect(target([row('cold-loads', { rps: 12_000, errors: 1 })], 'cold-loads-rps').pass).toBe(false);
  });

  it('cold misses need requests and no errors', () => {
    expect(target([row('cold-misses')], 'cold-misses-no-errors').pass).toBe(true);
    expect(target([row('cold-misses', { errors: 3 })], 'cold-misses-no-errors').pass).toBe(false);
    expect(target([row('cold-misses', { requests: 0 })], 'cold-misses-no-errors').pass).toBe(false);
  });
});
