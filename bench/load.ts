/**
 * One load run with autocannon's programmatic API (pipelining 1: LLM clients do not pipeline),
 * plus the correctness check that comes before it. Latencies are taken from autocannon's
 * per-response event (float milliseconds from hrtime) rather than its histogram, which only keeps
 * whole milliseconds.
 *
 * Every run, gateway or baseline, builds its requests through `setupRequest`, so the load
 * generator does the same work per request whether the key rotates or not.
 */
import autocannon from 'autocannon';
import { request } from 'undici';
import { cpuMs } from './processes.js';
import { Samples, summarize, type LatencySummary } from './stats.js';

export interface LoadSpec {
  /** Origin, e.g. http://127.0.0.1:4000 */
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  /** Headers added to each request (e.g. a key chosen at random); called once per request. */
  perRequest?: () => Record<string, string>;
  connections: number;
  durationS: number;
  /** Status every response should have; others count as errors. */
  expectedStatus: number;
  /** Stop after this many requests even if the duration is not over. */
  amount?: number;
  /** Processes whose CPU time to sample around the run, by label (e.g. gateway, admin). */
  cpuPids?: Readonly<Record<string, number>>;
  /** Per-request timeout in seconds (default 10; a gateway under valgrind needs more). */
  timeoutS?: number;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  latency: LatencySummary;
  /** Transport errors + timeouts + responses with an unexpected status. */
  errors: number;
  statusCounts: Record<string, number>;
  /** Raw latencies (ms), to merge rounds. */
  samples: Samples;
  /** CPU time (ms, user + system) each of `cpuPids` used during the run, by label. */
  cpuMs?: Record<string, number>;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return startLoad(spec).done;
}

/** A load run that can be stopped early (background load of the revocation trials). */
export function startLoad(spec: LoadSpec): { stop(): void; done: Promise<LoadResult> } {
  const samples = new Samples();
  const statusCounts: Record<string, number> = {};
  let unexpected = 0;
  const headers = { 'content-type': 'application/json', ...spec.headers };
  const perRequest = spec.perRequest ?? ((): Record<string, string> => ({}));
  const started = process.hrtime.bigint();
  const cpuBefore = sampleCpu(spec.cpuPids);
  let settle: (error: unknown, result: autocannon.Result) => void = () => undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    settle = (error, result) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result);
  });
  const instance = autocannon(
    {
      url: spec.origin,
      connections: spec.connections,
      pipelining: 1,
      duration: spec.durationS,
      ...(spec.amount !== undefined ? { amount: spec.amount } : {}),
      timeout: spec.timeoutS ?? 10,
      requests: [
        {
          method: spec.method,
          path: spec.path,
          headers,
          ...(spec.body !== undefined ? { body: spec.body } : {}),
          setupRequest: (req) => ({ ...req, headers: { ...headers, ...perRequest() } }),
        },
      ],
    },
    (error: unknown, result: autocannon.Result) => settle(error, result),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    samples.push(responseTime);
    statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
    if (statusCode !== spec.expectedStatus) unexpected++;
  });
  // autocannon ignores `duration` when `amount` is set: enforce both.
  const cap =
    spec.amount !== undefined ? setTimeout(() => instance.stop(), spec.durationS * 1000) : undefined;
  const done = finished.then((result): LoadResult => {
    clearTimeout(cap);
    const cpuAfter = sampleCpu(spec.cpuPids);
    const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
    const durationS = result.duration > 0 ? result.duration : elapsedS;
    return {
      requests: samples.count,
      durationS,
      rps: samples.count / durationS,
      latency: summarize(samples),
      errors: result.errors + unexpected,
      statusCounts,
      samples,
      ...(cpuBefore === undefined ? {} : { cpuMs: cpuUsed(cpuBefore, cpuAfter!) }),
    };
  });
  return { stop: () => instance.stop(), done };
}

function sampleCpu(pids: LoadSpec['cpuPids']): Record<string, number | null> | undefined {
  if (pids === undefined) return undefined;
  return Object.fromEntries(Object.entries(pids).map(([label, pid]) => [label, cpuMs(pid)]));
}

/** CPU used per label between two samples; labels unreadable at either end are left out. */
function cpuUsed(
  before: Record<string, number | null>,
  after: Record<string, number | null>,
): Record<string, number> {
  const used: Record<string, number> = {};
  for (const [label, start] of Object.entries(before)) {
    const end = after[label];
    if (start !== null && end !== null && end !== undefined) used[label] = end - start;
  }
  return used;
}

/** Warm up (results discarded), then measure. */
export async function warmAndMeasure(spec: LoadSpec, warmupS: number): Promise<LoadResult> {
  if (warmupS > 0) await runLoad({ ...spec, durationS: warmupS, amount: undefined });
  return runLoad(spec);
}

/**
 * Measure several targets in interleaved rounds (order alternating each round), so machine noise
 * (a 2-core box shared with other work) hits each alike: their ratio is then far steadier than
 * the ratio of two runs made one after the other. Each target gets `durationS` in total.
 */
export async function measureInterleaved(
  specs: readonly LoadSpec[],
  warmupS: number,
  durationS: number,
  rounds = 4,
): Promise<LoadResult[]> {
  if (warmupS > 0)
    for (const spec of specs) await runLoad({ ...spec, durationS: warmupS, amount: undefined });
  const parts: LoadResult[][] = specs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = specs.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order)
      parts[i]!.push(await runLoad({ ...specs[i]!, durationS: durationS / rounds, amount: undefined }));
  }
  return parts.map(mergeResults);
}

export function mergeResults(parts: readonly LoadResult[]): LoadResult {
  const samples = new Samples();
  const statusCounts: Record<string, number> = {};
  let requests = 0;
  let durationS = 0;
  let errors = 0;
  let cpu: Record<string, number> | undefined;
  for (const part of parts) {
    if (part.cpuMs !== undefined) {
      cpu ??= {};
      for (const [label, ms] of Object.entries(part.cpuMs)) cpu[label] = (cpu[label] ?? 0) + ms;
    }
    for (const value of part.samples.sorted()) samples.push(value);
    for (const [status, count] of Object.entries(part.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + count;
    requests += part.requests;
    durationS += part.durationS;
    errors += part.errors;
  }
  return {
    requests,
    durationS,
    rps: durationS > 0 ? requests / durationS : 0,
    latency: summarize(samples),
    errors,
    statusCounts,
    samples,
    ...(cpu === undefined ? {} : { cpuMs: cpu }),
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export async function call(
  url: string,
  options: {
    method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
    headers?: Record<string, string>;
    body?: unknown;
  } = {},
): Promise<Answer> {
  const response = await request(url, {
    method: options.method ?? 'GET',
    headers: {
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** JSON body of an answer, or a thrown error that shows the answer. */
export function jsonOf<T>(answer: Answer, what: string): T {
  try {
    return JSON.parse(answer.text) as T;
  } catch {
    throw new Error(`${what}: expected JSON, got ${answer.status} ${answer.text.slice(0, 300)}`);
  }
}

/**
 * The pre-load correctness check: one request must answer `status` and, when given,
 * `errorCode` (OpenAI error body) or a body predicate. A bench of wrong answers proves nothing.
 */
export async function expectAnswer(
  what: string,
  url: string,
  init: Parameters<typeof call>[1],
  expected: { status: number; errorCode?: string; body?: (text: string) => boolean; bodyHint?: string },
): Promise<Answer> {
  const answer = await call(url, init);
  const problems: string[] = [];
  if (answer.status !== expected.status)
    problems.push(`status ${answer.status}, expected ${expected.status}`);
  if (expected.errorCode !== undefined) {
    let code: unknown;
    try {
      code = (JSON.parse(answer.text) as { error?: { code?: unknown } }).error?.code;
    } catch {
      code = undefined;
    }
    if (code !== expected.errorCode)
      problems.push(`error code ${String(code)}, expected ${expected.errorCode}`);
  }
  if (expected.body !== undefined && !expected.body(answer.text))
    problems.push(`body is not ${expected.bodyHint ?? 'as expected'}`);
  if (problems.length > 0) {
    throw new Error(
      `check failed for ${what}: ${problems.join('; ')}\n  answer: ${answer.text.slice(0, 400)}`,
    );
  }
  return answer;
}
