/**
 * Decision-path CPU: runs the limits engineer's micro-benchmark (bench/decision-bench.ts, built
 * to dist/bench/decision-bench.js) as a child process and keeps what it prints. If its last line
 * of output is JSON with a `usPerDecision` (or `nsPerDecision`) figure, the report checks it
 * against "a few µs" (≤ 10 µs); otherwise the output is kept verbatim in the JSON results.
 */
import type { Measurement } from '../measurement.js';
import { SkipScenario } from '../context.js';
import type { Scenario } from './scenario.js';

export function parseDecisionOutput(output: string): { usPerDecision: number | null; summary: string } {
  const lines = output.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  for (const line of [...lines].reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const us = typeof parsed.usPerDecision === 'number' ? parsed.usPerDecision : typeof parsed.nsPerDecision === 'number' ? parsed.nsPerDecision / 1000 : null;
      if (us !== null) return { usPerDecision: us, summary: line };
    } catch {
      // not JSON: keep looking
    }
  }
  const match = /([\d.]+)\s*(µs|us|ns)\b[^\n]*(?:decision|per request|\/op)/i.exec(output) ?? /(?:decision|per request)[^\n]*?([\d.]+)\s*(µs|us|ns)\b/i.exec(output);
  if (match !== null) {
    const value = Number(match[1]);
    return { usPerDecision: match[2] === 'ns' ? value / 1000 : value, summary: match[0] };
  }
  return { usPerDecision: null, summary: lines.slice(-5).join(' | ') };
}

export const decisionScenario: Scenario = {
  name: 'decision',
  description: 'CPU per decision (key check + windows + budgets) from bench/decision-bench.ts',
  references: [],
  rows: [{ id: 'decision', title: 'decision path CPU (micro-bench)', kind: 'gateway' }],
  async run(ctx) {
    if (!ctx.group.has('bench/decision-bench', true)) throw new SkipScenario('bench/decision-bench.ts is not there yet');
    const child = ctx.group.start('decision-bench', 'bench/decision-bench', { args: ctx.options.quick ? ['--quick'] : [], system: true });
    const timer = setTimeout(() => child.process.kill('SIGKILL'), 120_000);
    const code = await child.exited;
    clearTimeout(timer);
    const output = child.output();
    if (code !== 0) throw new Error(`decision-bench exited with ${code}:\n${output}`);
    const parsed = parseDecisionOutput(output);
    const row: Measurement = {
      id: 'decision',
      scenario: 'decision',
      title: 'decision path CPU (micro-bench)',
      kind: 'gateway',
      connections: 0,
      durationS: 0,
      requests: 0,
      rps: null,
      p50Ms: null,
      p90Ms: null,
      p99Ms: null,
      errors: 0,
      expectedStatus: null,
      extra: { usPerDecision: parsed.usPerDecision, output: parsed.summary },
    };
    return [row];
  },
};
