/**
 * Turns one run into what people read: the stdout table (rps, p50, p99, errors, ratio to the
 * matching baseline), the target checks, bench/results/<timestamp>.json (every figure, git sha,
 * Node version, CPU), latest.md and latest.svg (bench/chart.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import type { BenchRun, MachineInfo, Measurement, TargetCheck } from './measurement.js';
import { ratio } from './stats.js';

export function machineInfo(root: string): MachineInfo {
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', args, {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '';
    }
  };
  const cpuList = cpus();
  return {
    gitSha: git('rev-parse', 'HEAD') || 'unknown',
    gitDirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    node: process.version,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
    platform: `${platform()} ${release()}`,
    loadAverage: Number((loadavg()[0] ?? 0).toFixed(2)),
  };
}

export function formatRps(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  return Math.round(value).toLocaleString('en-US');
}

export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

export function formatRatio(value: number | null): string {
  return value === null ? '' : `${value.toFixed(2)}×`;
}

/** rps ratio of a row to its reference row, when both have rps. */
export function rowRatio(
  row: Measurement,
  rows: readonly Measurement[],
): { ratio: number | null; reference: string | undefined } {
  if (row.reference === undefined) return { ratio: null, reference: undefined };
  const reference = rows.find((candidate) => candidate.id === row.reference);
  return { ratio: ratio(row.rps, reference?.rps), reference: row.reference };
}

const HEADERS = ['scenario', 'conns', 'rps', 'p50 ms', 'p99 ms', 'errors', 'ratio'];

/** Rows of the main table: everything with rps or latency figures (memory/decision go below). */
export function tableRows(rows: readonly Measurement[]): string[][] {
  return rows
    .filter((row) => row.skipped !== undefined || row.rps !== null || row.p50Ms !== null)
    .map((row) => {
      if (row.skipped !== undefined) return [row.title, '', '', '', '', '', `skipped: ${row.skipped}`];
      const { ratio: value, reference } = rowRatio(row, rows);
      return [
        row.title,
        String(row.connections),
        formatRps(row.rps),
        formatMs(row.p50Ms),
        formatMs(row.p99Ms),
        String(row.errors),
        value === null ? '' : `${formatRatio(value)} ${reference}`,
      ];
    });
}

export function otherFigures(rows: readonly Measurement[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    const extra = row.extra ?? {};
    if (row.id === 'memory' && row.skipped === undefined) {
      lines.push(
        `gateway RSS: ${formatMs(extra.rssMb as number | null)} MB with ${extra.keys} keys cached (${formatMs(extra.rssBeforePrefillMb as number | null)} MB before loading them` +
          (typeof extra.rssMb === 'number' &&
          typeof extra.rssBeforePrefillMb === 'number' &&
          typeof extra.keys === 'number'
            ? `: about ${(((extra.rssMb - extra.rssBeforePrefillMb) * 1024) / extra.keys).toFixed(1)} KB per key)`
            : ')') +
          (extra.gcForced === 'yes'
            ? `, both after a forced full GC; ${formatMs(extra.rssWithoutGcMb as number | null)} MB before it; ` +
              `heap ${formatMs(extra.heapUsedMb as number | null)} MB used of ${formatMs(extra.heapTotalMb as number | null)} MB committed, ${String(extra.heapPerKeyBytes ?? '–')} bytes per key; ` +
              `RSS right after the first GC (before V8 gave freed pages back) ${formatMs(extra.rssRightAfterGcMb as number | null)} MB; ` +
              `after gc() alone, without the memory-reducing GCs, ${formatMs(extra.rssGcOnlyMb as number | null)} MB (heap ${formatMs(extra.heapTotalGcOnlyMb as number | null)} MB committed; ${formatMs(extra.rssBeforePrefillGcOnlyMb as number | null)} MB before the keys); ` +
              `external ${formatMs(extra.externalMb as number | null)} MB (arrayBuffers ${formatMs(extra.arrayBuffersMb as number | null)} MB)`
            : ''),
      );
    }
    if (row.id === 'preload' && row.skipped === undefined) {
      lines.push(
        `preload (KEYGATE_PRELOAD_KEYS=${String(extra.keys)}): ${String(extra.cached)} keys cached in ${formatMs(extra.preloadSeconds as number | null)} s ` +
          `(${formatRps(extra.keysPerSecond as number | null)} keys/s; ${formatMs(extra.wallSeconds as number | null)} s from process start), ` +
          `RSS after a forced GC ${formatMs(extra.rssAfterGcMb as number | null)} MB (heap ${formatMs(extra.heapUsedAfterGcMb as number | null)} MB used of ${formatMs(extra.heapTotalAfterGcMb as number | null)} MB; ` +
          `${formatMs(extra.rssRightAfterGcMb as number | null)} MB right after the first GC; ${formatMs(extra.rssGcOnlyMb as number | null)} MB after gc() alone, heap ${formatMs(extra.heapTotalGcOnlyMb as number | null)} MB committed)`,
      );
    }
    if (row.id === 'decision' && row.skipped === undefined) {
      const us = (value: unknown): string =>
        typeof value === 'number' ? `${formatMs(value)} µs` : 'no figure';
      lines.push(
        `decision path (bench/decision-bench.ts, admit + settle): ${us(extra.usPerDecision)} with all 15 windows + 3 budgets, ${us(extra.usFullFeatures)} with those + budget periods, parallel caps and a shadow limit, ${us(extra.usNoLimits)} with no limits`,
      );
    }
    if (row.id === 'streaming-gateway' && row.skipped === undefined) {
      lines.push(
        `streaming through the gateway: TTFB p50 ${formatMs(extra.ttfbP50Ms as number)} ms / p99 ${formatMs(extra.ttfbP99Ms as number)} ms` +
          (typeof extra.addedTtfbP50Ms === 'number'
            ? ` (+${formatMs(extra.addedTtfbP50Ms)} ms p50 over direct)`
            : ''),
      );
    }
    if (row.id === 'latency-c1-gateway' && row.skipped === undefined) {
      lines.push(
        `added latency at 1 connection: +${formatMs(extra.addedP50Ms as number)} ms p50, +${formatMs(extra.addedP99Ms as number)} ms p99 over direct`,
      );
    }
    if (row.scenario === 'revocation' && row.skipped === undefined) {
      lines.push(
        `${row.title}: gateway's own commit→apply lag p50 ≤ ${formatMs(extra.gatewayApplyLagP50Ms as number | null)} ms, ` +
          `p99 ≤ ${formatMs(extra.gatewayApplyLagP99Ms as number | null)} ms (its /metrics buckets); a poll request took ` +
          `${formatMs(extra.pollP50Ms as number | null)} ms (p50) under the ${formatRps(extra.backgroundRps as number | null)} rps background load`,
      );
    }
    if (row.id === 'many-keys' && row.skipped === undefined && typeof extra.prefillRps === 'number') {
      lines.push(
        `loading ${extra.keys} keys (all misses, before many-keys): ${formatRps(extra.prefillRps)} rps over ${formatMs(extra.prefillSeconds as number)} s`,
      );
    }
    if (row.note !== undefined && row.skipped === undefined && row.scenario !== 'streaming')
      lines.push(`${row.title}: ${row.note}`);
  }
  const cpu = cpuLine(rows);
  if (cpu !== undefined) lines.push(cpu);
  return lines;
}

/**
 * CPU per request of the processes sampled around each row's load (`<label>CpuUsPerRequest`,
 * /proc utime + stime): steadier than rps on a shared machine, since it does not depend on the
 * share of the cores the process got (it still grows when a starved process serves few requests
 * per wake-up).
 */
function cpuLine(rows: readonly Measurement[]): string | undefined {
  const parts: string[] = [];
  for (const row of rows) {
    const figures = Object.entries(row.extra ?? {})
      .filter(([name, value]) => name.endsWith('CpuUsPerRequest') && typeof value === 'number')
      .map(([name, value]) => `${name.slice(0, -'CpuUsPerRequest'.length)} ${String(value)}`);
    if (figures.length > 0) parts.push(`${row.title}: ${figures.join(', ')}`);
  }
  return parts.length === 0
    ? undefined
    : `CPU per request in µs (user + system from /proc over the measured load): ${parts.join('; ')}`;
}

function pad(cells: string[], widths: number[]): string {
  return cells
    .map((cell, i) =>
      i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
    )
    .join('  ')
    .trimEnd();
}

export function textTable(headers: string[], body: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...body.map((row) => (row[i] ?? '').length)),
  );
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [pad(headers, widths), rule, ...body.map((row) => pad(row, widths))].join('\n');
}

export function markdownTable(headers: string[], body: string[][]): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const align = headers.map((_, i) => (i === 0 || i === headers.length - 1 ? '---' : '---:'));
  return [
    `| ${headers.map(escape).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...body.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ].join('\n');
}

export function targetCells(targets: readonly TargetCheck[]): string[][] {
  return targets.map((target) => [
    target.goal,
    target.measured,
    target.pass === null ? 'n/a' : target.pass ? 'pass' : 'MISS',
    target.note ?? '',
  ]);
}

const TARGET_HEADERS = ['target', 'measured', 'result', 'note'];

function compareCells(run: BenchRun): string[][] {
  if (run.compare === undefined) return [];
  const other = new Map(run.compare.measurements.map((row) => [row.id, row]));
  return run.measurements
    .filter((row) => row.skipped === undefined && (row.rps !== null || row.p99Ms !== null))
    .map((row) => {
      const theirs = other.get(row.id);
      return [
        row.title,
        formatRps(row.rps),
        formatRps(theirs?.rps),
        formatRatio(ratio(row.rps, theirs?.rps)),
        formatMs(row.p99Ms),
        formatMs(theirs?.p99Ms),
      ];
    });
}

const COMPARE_HEADERS = ['scenario', 'rps here', 'rps there', 'ratio', 'p99 here', 'p99 there'];

function machineLine(machine: MachineInfo): string {
  return (
    `${machine.cpuModel} × ${machine.cpuCount}, ${machine.totalMemoryMb} MB, ${machine.platform}, Node ${machine.node}, ` +
    `git ${machine.gitSha.slice(0, 10)}${machine.gitDirty ? ' (dirty)' : ''}, load average ${machine.loadAverage} at start`
  );
}

export function renderText(run: BenchRun): string {
  const parts = [
    `keygate bench: ${machineLine(run.machine)}`,
    '',
    textTable(HEADERS, tableRows(run.measurements)),
    '',
    'targets',
    textTable(TARGET_HEADERS, targetCells(run.targets)),
  ];
  const figures = otherFigures(run.measurements);
  if (figures.length > 0) parts.push('', ...figures);
  if (run.compare !== undefined) {
    parts.push(
      '',
      `comparison with ${run.compare.ref} (${run.compare.gitSha.slice(0, 10)}): ratio = here / there`,
    );
    parts.push(textTable(COMPARE_HEADERS, compareCells(run)));
    parts.push(...run.compare.notes);
  }
  if (run.notes.length > 0) parts.push('', ...run.notes.map((note) => `note: ${note}`));
  return parts.join('\n');
}

export function renderMarkdown(run: BenchRun): string {
  const options = run.options as { durationS?: number; connections?: number; quick?: boolean };
  const parts = [
    '# keygate bench: latest results',
    '',
    `Run ${run.startedAt} on ${machineLine(run.machine)}.`,
    `Everything (load generator, gateway, admin plane, mock upstream, baselines) shared this machine on 127.0.0.1;` +
      ` ${options.durationS ?? '?'} s per measurement, ${options.connections ?? '?'} connections${options.quick ? ', --quick' : ''}.`,
    '',
    markdownTable(HEADERS, tableRows(run.measurements)),
    '',
    '## Targets',
    '',
    markdownTable(TARGET_HEADERS, targetCells(run.targets)),
  ];
  const figures = otherFigures(run.measurements);
  if (figures.length > 0) parts.push('', '## Other figures', '', ...figures.map((line) => `- ${line}`));
  if (run.compare !== undefined) {
    parts.push('', `## Comparison with \`${run.compare.ref}\` (${run.compare.gitSha.slice(0, 10)})`, '');
    parts.push(markdownTable(COMPARE_HEADERS, compareCells(run)));
  }
  if (run.notes.length > 0) parts.push('', '## Notes', '', ...run.notes.map((note) => `- ${note}`));
  parts.push('', '![rps and latency per scenario](latest.svg)', '');
  return parts.join('\n');
}

/** Write <timestamp>.json, latest.md and latest.svg; returns the JSON path. */
export function writeResults(run: BenchRun, outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const stamp = run.startedAt.replace(/[:.]/g, '-');
  const jsonPath = join(outDir, `${stamp}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), renderMarkdown(run));
  writeFileSync(
    join(outDir, 'latest.svg'),
    renderChart(
      run.measurements,
      `${run.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${machineLine(run.machine)}`,
    ),
  );
  return jsonPath;
}
