/**
 * The targets of issue 7 / DESIGN.md "Quality bars", checked against one run's rows. A target
 * whose rows are missing or skipped is reported as not evaluated (pass: null), never as passed.
 */
import type { Measurement, TargetCheck } from './measurement.js';

const fmt = (value: number, digits = 2): string => value.toFixed(digits);

interface Rule {
  id: string;
  goal: string;
  rows: readonly string[];
  check(get: (id: string) => Measurement): { measured: string; pass: boolean | null; note?: string };
}

function atLeastRatio(id: string, row: string, reference: string, goal: number, what: string): Rule {
  return {
    id,
    goal: `${what} ≥ ${Math.round(goal * 100)} % of ${reference}`,
    rows: [row, reference],
    check(get) {
      const value = get(row).rps ?? 0;
      const ref = get(reference).rps ?? 0;
      const ratio = ref > 0 ? value / ref : 0;
      const pass = ratio >= goal;
      return {
        measured: `${Math.round(ratio * 100)} % (${Math.round(value)} vs ${Math.round(ref)} rps)`,
        pass,
        note: pass ? undefined : `short by ${Math.round((goal - ratio) * 100)} points`,
      };
    },
  };
}

function atMost(
  id: string,
  row: string,
  goal: string,
  limit: number,
  unit: string,
  read: (m: Measurement) => number | null | undefined,
): Rule {
  return {
    id,
    goal,
    rows: [row],
    check(get) {
      const value = read(get(row));
      if (value === null || value === undefined) return { measured: 'no figure', pass: false };
      const pass = value <= limit;
      return {
        measured: `${fmt(value, unit === 'MB' ? 0 : 2)} ${unit}`,
        pass,
        note: pass
          ? undefined
          : `over by ${fmt(value - limit, unit === 'MB' ? 0 : 2)} ${unit} (${Math.round((value / limit - 1) * 100)} %)`,
      };
    },
  };
}

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

export const RULES: readonly Rule[] = [
  atLeastRatio('hot-key-vs-bare-proxy', 'hot-key', 'baseline-bare-proxy-paired', 0.8, 'hot-key rps'),
  atMost(
    'added-latency-p50',
    'latency-c1-gateway',
    'added p50 at 1 connection ≤ 0.5 ms over direct',
    0.5,
    'ms',
    (m) => num(m.extra?.addedP50Ms),
  ),
  atMost(
    'added-latency-p99',
    'latency-c1-gateway',
    'added p99 at 1 connection ≤ 1 ms over direct',
    1,
    'ms',
    (m) => num(m.extra?.addedP99Ms),
  ),
  atMost('decision-cpu', 'decision', 'decision path CPU: a few µs (≤ 10 µs)', 10, 'µs', (m) =>
    num(m.extra?.usPerDecision),
  ),
  atMost(
    'decision-cpu-full',
    'decision',
    'decision with periods, parallel caps and shadow limits too ≤ 5 µs',
    5,
    'µs',
    (m) => num(m.extra?.usFullFeatures),
  ),
  atLeastRatio('many-keys-vs-hot-key', 'many-keys', 'hot-key-paired', 0.9, 'many-keys rps'),
  atLeastRatio('invalid-keys-vs-hot-key', 'invalid-keys', 'hot-key', 1, 'invalid-keys rps'),
  {
    id: 'cold-misses-no-errors',
    goal: 'cold misses sustained without errors',
    rows: ['cold-misses'],
    check(get) {
      const row = get('cold-misses');
      const pass = row.errors === 0 && row.requests > 0;
      return {
        measured: `${row.errors} errors in ${row.requests} requests (${Math.round(row.rps ?? 0)} rps)`,
        pass,
      };
    },
  },
  {
    id: 'cold-misses-rps',
    goal: 'cold misses ≥ 10,000 rps',
    rows: ['cold-misses'],
    check(get) {
      const rps = get('cold-misses').rps ?? 0;
      const pass = rps >= 10_000;
      return {
        measured: `${Math.round(rps)} rps`,
        pass,
        note: pass ? undefined : `short by ${Math.round(10_000 - rps)} rps`,
      };
    },
  },
  {
    id: 'cold-loads-rps',
    goal: 'cold misses on /v1/models (key loads, no upstream) ≥ 10,000 rps',
    rows: ['cold-loads'],
    check(get) {
      const row = get('cold-loads');
      const rps = row.rps ?? 0;
      const pass = rps >= 10_000 && row.errors === 0;
      return {
        measured: `${Math.round(rps)} rps, ${row.errors} errors`,
        pass,
        note: pass ? undefined : rps < 10_000 ? `short by ${Math.round(10_000 - rps)} rps` : 'errors',
      };
    },
  },
  {
    id: 'preload-seconds',
    goal: 'preload of 100,000 keys ≤ 5 s',
    rows: ['preload'],
    check(get) {
      const row = get('preload');
      const inner = atMost('preload-seconds', 'preload', '', 5, 's', (m) =>
        num(m.extra?.preloadSeconds),
      ).check(get);
      const keys = num(row.extra?.keys) ?? 0;
      return keys >= 100_000
        ? inner
        : { ...inner, pass: null, note: `only ${keys} keys in this run (--quick?): not comparable` };
    },
  },
  revocation('revocation-push-p99', 'revocation-push', 'revocation p99 ≤ 50 ms with pushes', 50),
  revocation('revocation-pull-p99', 'revocation-pull', 'revocation p99 ≤ 1.1 s with pushes dropped', 1100),
  {
    id: 'memory-rss',
    goal: 'gateway RSS (after a memory-reducing GC) ≤ 200 MB with 100,000 keys',
    rows: ['memory'],
    check(get) {
      const row = get('memory');
      const inner = atMost('memory-rss', 'memory', '', 200, 'MB', (m) => num(m.extra?.rssMb)).check(get);
      const keys = num(row.extra?.keys) ?? 0;
      if (keys < 100_000)
        return { ...inner, pass: null, note: `only ${keys} keys in this run (--quick?): not comparable` };
      // The reading without V8's memory-reducing GC (bench/gc-hook.ts), shown beside the verdict.
      const gcOnly = num(row.extra?.rssGcOnlyMb);
      const beside = gcOnly === null ? '' : `after gc() alone ${Math.round(gcOnly)} MB`;
      return {
        ...inner,
        note: [inner.note, beside].filter((part) => part !== '' && part !== undefined).join('; '),
      };
    },
  },
];

function revocation(id: string, row: string, goal: string, limitMs: number): Rule {
  const inner = atMost(id, row, goal, limitMs, 'ms', (m) => m.p99Ms);
  return {
    ...inner,
    check(get) {
      const m = get(row);
      if (m.errors > 0) {
        return {
          measured: `${m.errors} of ${m.requests} trials failed`,
          pass: false,
          note: String(m.extra?.firstFailure ?? ''),
        };
      }
      const result = inner.check(get);
      const trials = m.requests < 50 ? ` (only ${m.requests} trials)` : '';
      return { ...result, measured: `${result.measured} p99, ${m.p50Ms?.toFixed(1) ?? '–'} ms p50${trials}` };
    },
  };
}

export function evaluateTargets(rows: readonly Measurement[], rules: readonly Rule[] = RULES): TargetCheck[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return rules.map((rule): TargetCheck => {
    const missing = rule.rows.filter(
      (id) => byId.get(id) === undefined || byId.get(id)!.skipped !== undefined,
    );
    if (missing.length > 0) {
      const why = [...new Set(missing.map((id) => byId.get(id)?.skipped ?? 'not run'))].join('; ');
      return {
        id: rule.id,
        goal: rule.goal,
        measured: 'not measured',
        pass: null,
        note: `${missing.join(', ')}: ${why}`,
      };
    }
    const result = rule.check((id) => byId.get(id)!);
    return { id: rule.id, goal: rule.goal, ...result };
  });
}
