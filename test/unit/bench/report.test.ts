import { describe, expect, it } from 'vitest';
import { escapeXml, renderChart } from '../../../bench/chart.js';
import { skippedRow, type BenchRun, type Measurement } from '../../../bench/measurement.js';
import {
  formatMs,
  markdownTable,
  renderMarkdown,
  renderText,
  rowRatio,
  tableRows,
} from '../../../bench/report.js';
import { evaluateTargets } from '../../../bench/targets.js';

const base = (id: string, rps: number, fields: Partial<Measurement> = {}): Measurement => ({
  id,
  scenario: id,
  title: id,
  kind: 'gateway',
  connections: 50,
  durationS: 10,
  requests: rps * 10,
  rps,
  p50Ms: 2,
  p90Ms: 3,
  p99Ms: 12.345,
  errors: 0,
  expectedStatus: 200,
  ...fields,
});

const rows: Measurement[] = [
  base('baseline-bare-proxy-paired', 5000, { kind: 'baseline', title: 'bare undici proxy' }),
  base('hot-key', 4000, { reference: 'baseline-bare-proxy-paired', title: 'gateway, hot key' }),
  skippedRow(
    { id: 'baseline-nginx', scenario: 'nginx', title: 'nginx proxy_pass', kind: 'baseline' },
    'nginx is not installed',
  ),
  {
    ...base('memory', 0),
    rps: null,
    p50Ms: null,
    p99Ms: null,
    extra: { rssMb: 150, keys: 100_000, rssBeforePrefillMb: 90 },
  },
];

const run: BenchRun = {
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:05:00.000Z',
  machine: {
    gitSha: 'abcdef1234567890',
    gitDirty: false,
    node: 'v20.20.2',
    cpuModel: 'Test CPU',
    cpuCount: 2,
    totalMemoryMb: 4096,
    platform: 'linux',
    loadAverage: 0.5,
  },
  options: { durationS: 10, connections: 50 },
  measurements: rows,
  targets: evaluateTargets(rows),
  notes: ['a note'],
};

describe('bench report', () => {
  it('the ratio column is rps over the named reference row', () => {
    expect(rowRatio(rows[1]!, rows)).toEqual({ ratio: 0.8, reference: 'baseline-bare-proxy-paired' });
    const hot = tableRows(rows).find((cells) => cells[0] === 'gateway, hot key')!;
    expect(hot).toEqual([
      'gateway, hot key',
      '50',
      '4,000',
      '2.00',
      '12.3',
      '0',
      '0.80× baseline-bare-proxy-paired',
    ]);
  });

  it('a skipped row stays in the table with its reason; rows without rps or latency go below it', () => {
    const table = tableRows(rows);
    expect(table.find((cells) => cells[0] === 'nginx proxy_pass')?.at(-1)).toBe(
      'skipped: nginx is not installed',
    );
    expect(table.some((cells) => cells[0] === 'memory')).toBe(false);
    expect(renderText(run)).toContain('gateway RSS: 150 MB with 100000 keys cached');
  });

  it('the text report names the machine, the targets and their result', () => {
    const text = renderText(run);
    expect(text).toContain('Test CPU × 2');
    expect(text).toContain('git abcdef1234');
    expect(text).toMatch(
      /hot-key rps ≥ 80 % of baseline-bare-proxy-paired\s+80 % \(4000 vs 5000 rps\)\s+pass/,
    );
    expect(text).toContain('note: a note');
  });

  it('markdown tables escape pipes and the page links the chart', () => {
    expect(markdownTable(['a', 'b'], [['x|y', '1']])).toContain('x\\|y');
    const md = renderMarkdown(run);
    expect(md).toContain('| scenario | conns | rps |');
    expect(md).toContain('![rps and latency per scenario](latest.svg)');
  });

  it('formats latency with precision that matches its size', () => {
    expect(formatMs(0.123)).toBe('0.12');
    expect(formatMs(45.67)).toBe('45.7');
    expect(formatMs(1234.5)).toBe('1,235');
    expect(formatMs(null)).toBe('–');
  });
});

describe('bench chart', () => {
  it('draws one labelled row per measured scenario, none for skipped ones, and escapes labels', () => {
    const svg = renderChart([...rows, base('x<y & "z"', 100)], 'sub <title>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('>bare undici proxy</text>');
    expect(svg).toContain('x&lt;y &amp; &quot;z&quot;');
    expect(svg).toContain('sub &lt;title&gt;');
    expect(svg).not.toContain('nginx proxy_pass');
    // rps bar + p99 bar + p50 bar for each of the three measured rows.
    expect(svg.match(/<rect x=/g)?.length).toBe(9);
  });

  it('escapeXml covers the five XML specials that can appear in labels', () => {
    expect(escapeXml(`<a href="x">&</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  });
});
