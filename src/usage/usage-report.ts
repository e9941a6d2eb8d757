/** `POST /internal/usage` body: idempotent on (gatewayId, batchId); batchSeq increases per gateway. */
export interface UsageItem {
  keyId: string;
  target: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  spendMicros: number;
  /** Epoch ms of the last request in this item (becomes the key's last_used_at). */
  lastUsedAt: number;
}

export interface UsageReport {
  gatewayId: string;
  batchId: string;
  batchSeq: number;
  items: UsageItem[];
}
