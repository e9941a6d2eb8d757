/** A named part of the bench (`--scenario NAME`): checks its answers, loads, returns rows. */
import type { BenchContext } from '../context.js';
import type { Measurement } from '../measurement.js';

export interface Scenario {
  name: string;
  /** One line for `--list`, bench/README.md and the report. */
  description: string;
  /** Scenarios whose rows this one's ratios refer to; run too when only this one is asked for. */
  references: readonly string[];
  /** Rows to show as skipped when the scenario cannot run (so the table always has the row). */
  rows: readonly { id: string; title: string; kind: Measurement['kind'] }[];
  run(ctx: BenchContext): Promise<Measurement[]>;
}
