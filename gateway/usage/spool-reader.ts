/**
 * Reads usage spool segments (format in usage-spool.ts) back into batches. Lines that do not
 * parse (a torn last line after kill -9) are skipped; an `add` line's usage is summed into its
 * batch wherever the batch was opened; acknowledgements count across all segments.
 */
import { usageItemId, type UsageItem, type UsageReport } from '../../src/usage/usage-report.js';

export interface SpoolContents {
  /** Per segment (same order as given), the batches opened in it, with their summed items. */
  batches: UsageReport[][];
  acked: Set<string>;
}

type Row = [string, string, number, number, number, number, number, string[]?];

interface Line {
  open?: { gatewayId: string; batchId: string; batchSeq: number };
  add?: string;
  items?: Row[];
  ack?: string;
}

export function readSpoolSegments(texts: readonly string[]): SpoolContents {
  const batches: UsageReport[][] = texts.map(() => []);
  const byId = new Map<string, { report: UsageReport; items: Map<string, UsageItem> }>();
  const acked = new Set<string>();
  const orphanAdds: Line[] = [];
  const addRows = (line: Line): boolean => {
    const batch = byId.get(line.add!);
    if (batch === undefined) return false;
    for (const row of line.items ?? []) {
      const [keyId, target, requests, inputTokens, outputTokens, spendMicros, lastUsedAt, tags] = row;
      const id = usageItemId(keyId, target, tags);
      const item = batch.items.get(id);
      if (item === undefined) {
        const fresh: UsageItem = {
          keyId,
          target,
          requests,
          inputTokens,
          outputTokens,
          spendMicros,
          lastUsedAt,
        };
        if (tags !== undefined) fresh.tags = tags;
        batch.items.set(id, fresh);
        batch.report.items.push(fresh);
        continue;
      }
      item.requests += requests;
      item.inputTokens += inputTokens;
      item.outputTokens += outputTokens;
      item.spendMicros += spendMicros;
      if (lastUsedAt > item.lastUsedAt) item.lastUsedAt = lastUsedAt;
    }
    return true;
  };
  texts.forEach((text, index) => {
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // torn write
      }
      if (line.open !== undefined) {
        const report: UsageReport = { ...line.open, items: [] };
        byId.set(report.batchId, { report, items: new Map() });
        batches[index]!.push(report);
      } else if (line.add !== undefined) {
        if (!addRows(line)) orphanAdds.push(line);
      } else if (line.ack !== undefined) {
        acked.add(line.ack);
      }
    }
  });
  for (const line of orphanAdds) addRows(line);
  return { batches, acked };
}
