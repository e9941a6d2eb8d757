/**
 * The shapes every scenario returns and the report consumes (also the JSON written to
 * bench/results/<timestamp>.json, so keep changes additive).
 */

export type MeasurementKind = 'baseline' | 'gateway';

export interface Measurement {
  /** Stable row id, e.g. `hot-key`, `baseline-direct`, `latency-c1-gateway`. */
  id: string;
  /** The scenario (`--scenario NAME`) that produced the row. */
  scenario: string;
  title: string;
  kind: MeasurementKind;
  connections: number;
  durationS: number;
  requests: number;
  rps: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  /** Transport errors, timeouts and responses whose status was not the expected one. */
  errors: number;
  /** Status expected of every response while loading (200, 401, 429). */
  expectedStatus: number | null;
  /** Row this one is compared with (the "ratio" column: rps / reference rps). */
  reference?: string;
  /** When set the row was not measured; the text says why. */
  skipped?: string;
  note?: string;
  /** Scenario-specific figures (TTFB, revocation latencies, RSS, ...). */
  extra?: Record<string, number | string | null>;
}

export interface MachineInfo {
  gitSha: string;
  gitDirty: boolean;
  node: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryMb: number;
  platform: string;
  /** 1-minute load average when the run started: above the core count, other work shared the machine. */
  loadAverage: number;
}

export interface TargetCheck {
  id: string;
  goal: string;
  measured: string;
  /** null = could not be evaluated (a row is missing or skipped). */
  pass: boolean | null;
  note?: string;
}

export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: Record<string, unknown>;
  measurements: Measurement[];
  targets: TargetCheck[];
  notes: string[];
  /** Comparison mode: the other checkout's rows and rps ratios (this / other). */
  compare?: { ref: string; gitSha: string; measurements: Measurement[]; notes: string[] };
}

/** A row with no load figures (a skipped scenario, or a figure such as RSS or µs per decision). */
export function figureRow(
  partial: Pick<Measurement, 'id' | 'scenario' | 'title' | 'kind'>,
  rest: Partial<Measurement> = {},
): Measurement {
  return {
    ...partial,
    connections: 0,
    durationS: 0,
    requests: 0,
    rps: null,
    p50Ms: null,
    p90Ms: null,
    p99Ms: null,
    errors: 0,
    expectedStatus: null,
    ...rest,
  };
}

export function skippedRow(
  partial: Pick<Measurement, 'id' | 'scenario' | 'title' | 'kind'>,
  why: string,
): Measurement {
  return figureRow(partial, { skipped: why });
}
