/**
 * Small, exact statistics over latency samples (milliseconds as floats, so sub-millisecond
 * differences survive: autocannon's own histogram only keeps whole milliseconds).
 */

/** A growable list of samples; cheap to push from a hot 'response' listener. */
export class Samples {
  private values = new Float64Array(1024);
  private size = 0;

  push(value: number): void {
    if (this.size === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.size++] = value;
  }

  get count(): number {
    return this.size;
  }

  /** A sorted copy of the samples. */
  sorted(): Float64Array {
    return this.values.slice(0, this.size).sort();
  }
}

/**
 * Nearest-rank percentile (p in 0..100) of ascending `sorted`: the smallest sample such that at
 * least p % of the samples are ≤ it. `undefined` for no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1];
}

export interface LatencySummary {
  count: number;
  meanMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export function summarize(samples: Samples | readonly number[]): LatencySummary {
  const sorted = samples instanceof Samples ? samples.sorted() : Float64Array.from(samples).sort();
  if (sorted.length === 0)
    return { count: 0, meanMs: null, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null };
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count: sorted.length,
    meanMs: total / sorted.length,
    p50Ms: percentile(sorted, 50) ?? null,
    p90Ms: percentile(sorted, 90) ?? null,
    p99Ms: percentile(sorted, 99) ?? null,
    maxMs: sorted[sorted.length - 1] ?? null,
  };
}

/** `value / reference`, or null when either is missing or the reference is zero. */
export function ratio(value: number | null | undefined, reference: number | null | undefined): number | null {
  if (
    value === null ||
    value === undefined ||
    reference === null ||
    reference === undefined ||
    reference === 0
  ) {
    return null;
  }
  return value / reference;
}

/** Milliseconds elapsed since a `process.hrtime.bigint()` reading. */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}
