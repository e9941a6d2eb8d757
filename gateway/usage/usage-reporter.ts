/**
 * Records usage per (key, target) in memory and reports it to the admin plane in batches
 * (`POST /internal/usage`). Every batch has a unique id and an increasing `batchSeq`; a batch
 * that fails to send is sent again unchanged (same id, same seq) until the admin plane accepts
 * it, so its idempotency on (gatewayId, batchId) prevents double counting and nothing recorded
 * is lost. Usage recorded meanwhile waits for the next batch.
 */
import { newId } from '../../src/ids.js';
import type { UsageItem, UsageReport } from '../../src/usage/usage-report.js';

export interface UsageSink {
  postUsage(report: UsageReport): Promise<{ applied: boolean }>;
}

export interface UsageReporterOptions {
  sink: UsageSink;
  gatewayId: string;
  /** Called when a batch is sealed, before it is sent (MemorySpendStore.seal). */
  onSeal?: (batchSeq: number) => void;
  onError?: (error: unknown) => void;
}

export class UsageReporter {
  private current = new Map<string, UsageItem>();
  private unsent: UsageReport | undefined;
  private seq = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: UsageReporterOptions) {}

  record(
    keyId: string,
    target: string,
    inputTokens: number,
    outputTokens: number,
    spendMicros: number,
    at: number,
  ): void {
    const id = `${keyId}\u0000${target}`;
    const item = this.current.get(id);
    if (item === undefined) {
      this.current.set(id, {
        keyId,
        target,
        requests: 1,
        inputTokens,
        outputTokens,
        spendMicros,
        lastUsedAt: at,
      });
      return;
    }
    item.requests++;
    item.inputTokens += inputTokens;
    item.outputTokens += outputTokens;
    item.spendMicros += spendMicros;
    if (at > item.lastUsedAt) item.lastUsedAt = at;
  }

  /** Items recorded but not yet accepted by the admin plane (tests, /readyz). */
  get pendingItems(): number {
    return this.current.size + (this.unsent?.items.length ?? 0);
  }

  /** Sends the unsent batch if any, else seals and sends what was recorded. Never throws. */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and makes a last attempt to send everything. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.flush();
    if (this.unsent === undefined && this.current.size > 0) await this.flush();
  }

  private async flushOnce(): Promise<void> {
    // At most two sends per flush: the batch that failed before, then the new one.
    for (let round = 0; round < 2; round++) {
      if (this.unsent === undefined) {
        if (this.current.size === 0) return;
        this.seq++;
        this.unsent = {
          gatewayId: this.options.gatewayId,
          batchId: newId('batch'),
          batchSeq: this.seq,
          items: [...this.current.values()],
        };
        this.current = new Map();
        this.options.onSeal?.(this.seq);
      }
      try {
        await this.options.sink.postUsage(this.unsent);
        this.unsent = undefined;
      } catch (error) {
        this.options.onError?.(error);
        return;
      }
    }
  }
}
