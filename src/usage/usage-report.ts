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

/**
 * `JSON.stringify(usageReportToWire(report))`, byte for byte, without the wire objects: a flush
 * carries one item per distinct key (10,000 per batch with many keys, issue 15), and
 * stringifying the wire items spent most of its time on their seven field names and on building
 * them. Strings go through JSON.stringify (escaping); numbers as JSON writes them.
 */
export function usageReportJson(report: UsageReport): string {
  let json = `{"gateway_id":${JSON.stringify(report.gatewayId)},"batch_id":${JSON.stringify(report.batchId)},"batch_seq":${jsonNumber(report.batchSeq)},"items":[`;
  const items = report.items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    json +=
      `${i === 0 ? '' : ','}{"key_id":${JSON.stringify(item.keyId)},"target":${JSON.stringify(item.target)}` +
      `,"requests":${jsonNumber(item.requests)},"input_tokens":${jsonNumber(item.inputTokens)}` +
      `,"output_tokens":${jsonNumber(item.outputTokens)},"spend_micros":${jsonNumber(item.spendMicros)}` +
      `,"last_used_at":${jsonNumber(item.lastUsedAt)}` +
      (item.tags === undefined ? '}' : `,"tags":${JSON.stringify(item.tags)}}`);
  }
  return `${json}]}`;
}

/** A number as JSON.stringify writes it (null when not finite). */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
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
