/**
 * Decision-path CPU: runs the limits engineer's micro-benchmark (bench/decision-bench.ts, built
 * to dist/bench/decision-bench.js) as a child process and keeps what it prints. It ends with a
 * JSON object (`allLimitsNsPerOp`: admit + settle with all 15 windows and 3 budgets;
 * `noLimitsNsPerOp`: the same with none; `allPlusPeriodsParallelShadowNsPerOp`: all of it plus
 * budget periods, parallel caps and a shadow limit); the report checks the first against "a few
 * µs" (≤ 10 µs) and the last against issue 14's ≤ 5 µs. Other output is kept verbatim in the JSON results.
 */
import { figureRow } from '../measurement.js';
import { SkipScenario } from '../context.js';
import type { Scenario } from './scenario.js';

export interface DecisionFigures {
  /** µs per decision with every limit configured (the figure checked against the target). */
  usPerDecision: number | null;
  /** µs per decision with no limit configured, when the bench reports it. */
  usNoLimits: number | null;
  /** µs with every limit + budget periods, parallel caps and a shadow limit (issue 14), when reported. */
  usFullFeatures: number | null;
  summary: string;
}

/** The last JSON object printed (one line or pretty-printed), if any. */
function lastJsonObject(output: string): Record<string, unknown> | undefined {
  const starts = [...output.matchAll(/^\s*\{/gm)].map((match) => match.index).reverse();
  for (const start of starts) {
    const tail = output.slice(start).trim();
    // The object may be followed by other lines: cut at each closing brace from the end.
    for (let end = tail.lastIndexOf('}'); end > 0; end = tail.lastIndexOf('}', end - 1)) {
      try {
        const parsed: unknown = JSON.parse(tail.slice(0, end + 1));
        if (typeof parsed === 'object' && parsed !== null) return parsed as Record<string, unknown>;
      } catch {
        // keep cutting
      }
    }
  }
  return undefined;
}

export function parseDecisionOutput(output: string): DecisionFigures {
  const json = lastJsonObject(output);
  if (json !== undefined) {
    const ns = (value: unknown): number | null => (typeof value === 'number' ? value / 1000 : null);
    const us =
      typeof json.usPerDecision === 'number'
        ? json.usPerDecision
        : (ns(json.allLimitsNsPerOp) ?? ns(json.nsPerDecision));
    if (us !== null) {
      return {
        usPerDecision: us,
        usNoLimits: ns(json.noLimitsNsPerOp),
        usFullFeatures: ns(json.allPlusPeriodsParallelShadowNsPerOp),
        summary: JSON.stringify(json),
      };
    }
  }
  const match =
    /([\d.]+)\s*(µs|us|ns)\b[^\n]*(?:decision|per request|\/op)/i.exec(output) ??
    /(?:decision|per request)[^\n]*?([\d.]+)\s*(µs|us|ns)\b/i.exec(output);
  if (match !== null) {
    const value = Number(match[1]);
    return {
      usPerDecision: match[2] === 'ns' ? value / 1000 : value,
      usNoLimits: null,
      usFullFeatures: null,
      summary: match[0],
    };
  }
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  return {
    usPerDecision: null,
    usNoLimits: null,
    usFullFeatures: null,
    summary: lines.slice(-5).join(' | '),
  };
}

export const decisionScenario: Scenario = {
  name: 'decision',
  description: 'CPU per decision (key check + windows + budgets) from bench/decision-bench.ts',
  references: [],
  rows: [{ id: 'decision', title: 'decision path CPU (micro-bench)', kind: 'gateway' }],
  async run(ctx) {
    if (!ctx.group.has('bench/decision-bench', true))
      throw new SkipScenario('bench/decision-bench.ts is not there yet');
    const child = ctx.group.start('decision-bench', 'bench/decision-bench', {
      // Its only argument: iterations per round (default 200,000). Far below 50,000 the JIT has not
      // settled in its warm-up and the figure comes out several times too high.
      args: ctx.options.quick ? ['50000'] : [],
      system: true,
    });
    const timer = setTimeout(() => child.process.kill('SIGKILL'), 120_000);
    const code = await child.exited;
    clearTimeout(timer);
    const output = child.output();
    if (code !== 0) throw new Error(`decision-bench exited with ${code}:\n${output}`);
    const parsed = parseDecisionOutput(output);
    const row = figureRow(
      { id: 'decision', scenario: 'decision', title: 'decision path CPU (micro-bench)', kind: 'gateway' },
      {
        extra: {
          usPerDecision: parsed.usPerDecision,
          usNoLimits: parsed.usNoLimits,
          usFullFeatures: parsed.usFullFeatures,
          output: parsed.summary,
        },
      },
    );
    return [row];
  },
};
