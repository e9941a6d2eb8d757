/**
 * Reads usage spool segments (format in usage-spool.ts) back into batches. Lines that do not
 * parse (a torn last line after kill -9) are skipped; an `add` line's usage is summed into its
 * batch wherever the batch was opened; acknowledgements count across all segments.
 *
 * So are lines and rows that parse but are not of the format (a damaged disk, a hand edit:
 * `null`, a row that is no array): they made the start of the gateway throw, on every start
 * (the segment stays in the spool), or sent an item without its counts that got the whole batch
 * refused. Every line or row skipped is counted in `skipped`, for the gateway to log.
 */
import { usageItemId, type UsageItem, type UsageReport } from '../../src/usage/usage-report.js';

export interface SpoolContents {
  /** Per segment (same order as given), the batches opened in it, with their summed items. */
  batches: UsageReport[][];
  acked: Set<string>;
  /** Lines and rows skipped: torn, or not of the format. */
  skipped: number;
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
  let skipped = 0;
  const addRows = (line: Line): boolean => {
    const batch = byId.get(line.add!);
    if (batch === undefined) return false;
    for (const row of line.items ?? []) {
      if (!isRow(row)) {
        skipped++;
        continue;
      }
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
      let line: unknown;
      try {
        line = JSON.parse(raw);
      } catch {
        skipped++;
        continue; // torn write
      }
      if (!isLine(line)) {
        skipped++;
      } else if (line.open !== undefined) {
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
  return { batches, acked, skipped };
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** One of the three line shapes, each with its fields of the right types. */
function isLine(value: unknown): value is Line {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const line = value as Record<string, unknown>;
  if (line.open !== undefined) {
    const open = line.open as Record<string, unknown> | null;
    return (
      typeof open === 'object' &&
      open !== null &&
      isString(open.gatewayId) &&
      isString(open.batchId) &&
      isCount(open.batchSeq)
    );
  }
  if (line.add !== undefined)
    return isString(line.add) && (line.items === undefined || Array.isArray(line.items));
  return isString(line.ack);
}

function isRow(value: unknown): value is Row {
  if (!Array.isArray(value) || value.length < 7 || value.length > 8) return false;
  const tags: unknown = value[7];
  return (
    isString(value[0]) &&
    isString(value[1]) &&
    value.slice(2, 7).every(isCount) &&
    (tags === undefined || (Array.isArray(tags) && tags.every(isString)))
  );
}
