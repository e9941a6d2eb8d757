/**
 * A gateway's usage batch, as `POST /internal/usage` carries it (API.md "Internal API").
 * The wire body is snake_case like the rest of the public contract:
 * `{gateway_id, batch_id, batch_seq, items: [{key_id, target, requests, input_tokens,
 * output_tokens, spend_micros, last_used_at}]}`; the admin plane applies it once per
 * (gateway_id, batch_id), and batch_seq increases per gateway. In code the batch is the
 * camelCase `UsageReport`; `usageReportToWire` / `usageReportFromWire` are the only crossing
 * points, so neither side hand-writes the field names.
 */
export interface UsageItem {
  keyId: string;
  target: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  spendMicros: number;
  /** Epoch ms of the last request in this item (becomes the key's last_used_at). */
  lastUsedAt: number;
  /** Request tags (`x-keygate-tags`, issue 14 item 6); absent when the requests sent none. */
  tags?: string[];
}

export interface UsageReport {
  gatewayId: string;
  batchId: string;
  batchSeq: number;
  items: UsageItem[];
}

export interface UsageItemWire {
  key_id: string;
  target: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  spend_micros: number;
  /** Epoch ms. */
  last_used_at: number;
  tags?: string[];
}

export interface UsageReportWire {
  gateway_id: string;
  batch_id: string;
  batch_seq: number;
  items: UsageItemWire[];
}

export function usageReportToWire(report: UsageReport): UsageReportWire {
  return {
    gateway_id: report.gatewayId,
    batch_id: report.batchId,
    batch_seq: report.batchSeq,
    items: report.items.map(usageItemToWire),
  };
}

/**
 * One item, built as one literal with `tags` added last when present: a flush serializes one per
 * distinct key (issue 15), and the spread of a conditional literal cost an extra object and a
 * generic copy per item. The JSON is the same (same fields, same order).
 */
function usageItemToWire(item: UsageItem): UsageItemWire {
  const wire: UsageItemWire = {
    key_id: item.keyId,
    target: item.target,
    requests: item.requests,
    input_tokens: item.inputTokens,
    output_tokens: item.outputTokens,
    spend_micros: item.spendMicros,
    last_used_at: item.lastUsedAt,
  };
  if (item.tags !== undefined) wire.tags = item.tags;
  return wire;
}

/** Maps an already validated wire body (the admin validates it with zod first). */
export function usageReportFromWire(wire: UsageReportWire): UsageReport {
  return {
    gatewayId: wire.gateway_id,
    batchId: wire.batch_id,
    batchSeq: wire.batch_seq,
    items: wire.items.map((item) => ({
      keyId: item.key_id,
      target: item.target,
      requests: item.requests,
      inputTokens: item.input_tokens,
      outputTokens: item.output_tokens,
      spendMicros: item.spend_micros,
      lastUsedAt: item.last_used_at,
      ...(item.tags === undefined ? {} : { tags: item.tags }),
    })),
  };
}

/** The aggregation id of usage: per key and target, and per tag set when the requests sent tags. */
export function usageItemId(keyId: string, target: string, tags: readonly string[] | undefined): string {
  return tags === undefined ? `${keyId}\u0000${target}` : `${keyId}\u0000${target}\u0000${tags.join(',')}`;
}
