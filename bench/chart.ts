/**
 * latest.svg: one line per measured row, throughput bars on the left (linear, rps) and latency
 * on the right (log scale, p50 dark / p99 light), baselines grey and gateway rows blue. Plain
 * hand-written SVG: no dependency, readable in any browser and on GitHub.
 */
import type { Measurement } from './measurement.js';

const ROW = 24;
const TOP = 64;
const LABEL = 300;
const PANEL = 300;
const GAP = 40;
const WIDTH = LABEL + PANEL + GAP + PANEL + 110;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

const num = (value: number | null | undefined): number | null =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;

export function renderChart(rows: readonly Measurement[], subtitle: string): string {
  const shown = rows.filter(
    (row) => row.skipped === undefined && (num(row.rps) !== null || num(row.p50Ms) !== null),
  );
  const height = TOP + shown.length * ROW + 40;
  const maxRps = niceMax(Math.max(0, ...shown.map((row) => num(row.rps) ?? 0)));
  const latencies = shown
    .flatMap((row) => [num(row.p50Ms), num(row.p99Ms)])
    .filter((value): value is number => value !== null);
  const minLog = Math.floor(Math.log10(Math.max(0.01, Math.min(1, ...latencies))));
  const maxLog = Math.ceil(Math.log10(Math.max(1, ...latencies)));
  const rpsX = (value: number): number => (value / maxRps) * PANEL;
  const latX = (value: number): number =>
    ((Math.log10(Math.max(value, 10 ** minLog)) - minLog) / Math.max(1, maxLog - minLog)) * PANEL;
  const latLeft = LABEL + PANEL + GAP;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="20" font-size="15" font-weight="600">keygate bench: throughput and latency per scenario</text>`,
    `<text x="12" y="38" fill="#555">${escapeXml(subtitle)}</text>`,
    `<text x="${LABEL}" y="${TOP - 8}" fill="#333">requests/s (0 – ${maxRps.toLocaleString('en-US')})</text>`,
    `<text x="${latLeft}" y="${TOP - 8}" fill="#333">latency ms, log scale (p50 dark, p99 light)</text>`,
  );
  // Latency grid: one line per decade.
  for (let exp = minLog; exp <= maxLog; exp++) {
    const x = latLeft + latX(10 ** exp);
    out.push(
      `<line x1="${x.toFixed(1)}" y1="${TOP}" x2="${x.toFixed(1)}" y2="${TOP + shown.length * ROW}" stroke="#e5e5e5"/>`,
    );
    out.push(
      `<text x="${x.toFixed(1)}" y="${TOP + shown.length * ROW + 14}" fill="#777" text-anchor="middle">${10 ** exp >= 1 ? 10 ** exp : (10 ** exp).toFixed(-exp)}</text>`,
    );
  }
  shown.forEach((row, index) => {
    const y = TOP + index * ROW;
    const baseline = row.kind === 'baseline';
    const dark = baseline ? '#8a8a8a' : '#2563eb';
    const light = baseline ? '#d4d4d4' : '#bfdbfe';
    out.push(`<text x="${LABEL - 8}" y="${y + 16}" text-anchor="end">${escapeXml(row.title)}</text>`);
    const rps = num(row.rps);
    if (rps !== null) {
      const w = rpsX(rps);
      out.push(
        `<rect x="${LABEL}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" fill="${dark}"><title>${escapeXml(`${row.title}: ${Math.round(rps)} rps`)}</title></rect>`,
      );
      out.push(
        `<text x="${(LABEL + w + 4).toFixed(1)}" y="${y + 16}" fill="#333">${Math.round(rps).toLocaleString('en-US')}</text>`,
      );
    }
    const p50 = num(row.p50Ms);
    const p99 = num(row.p99Ms);
    if (p99 !== null) {
      out.push(
        `<rect x="${latLeft}" y="${y + 4}" width="${latX(p99).toFixed(1)}" height="${ROW - 8}" fill="${light}"><title>${escapeXml(`${row.title}: p99 ${p99.toFixed(2)} ms`)}</title></rect>`,
      );
    }
    if (p50 !== null) {
      out.push(
        `<rect x="${latLeft}" y="${y + 8}" width="${latX(p50).toFixed(1)}" height="${ROW - 16}" fill="${dark}"><title>${escapeXml(`${row.title}: p50 ${p50.toFixed(2)} ms`)}</title></rect>`,
      );
    }
    if (p50 !== null || p99 !== null) {
      const label = `${p50 !== null ? p50.toFixed(2) : '–'} / ${p99 !== null ? p99.toFixed(2) : '–'}`;
      out.push(
        `<text x="${(latLeft + latX(p99 ?? p50 ?? 0) + 4).toFixed(1)}" y="${y + 16}" fill="#333">${label}</text>`,
      );
    }
  });
  out.push('</svg>', '');
  return out.join('\n');
}
