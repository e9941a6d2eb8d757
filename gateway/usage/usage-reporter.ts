/**
 * Records usage per (key, target) in memory and reports it to the admin plane in batches
 * (`POST /internal/usage`). Every batch has a unique id and an increasing `batchSeq`; a batch
 * that fails to send is sent again unchanged (same id, same seq) until the admin plane accepts
 * it, so its idempotency on (gatewayId, batchId) prevents double counting and nothing recorded
 * is lost. Usage recorded meanwhile waits for the next batch.
 *
 * A batch holds at most `maxBatchItems` items (key × target × request tag set): the open batch
 * is sealed when it reaches them. The admin plane refuses a batch of more than 100,000 items;
 * without the cap, an admin outage (everything recorded meanwhile goes into the one open batch)
 * or one key sending a new `x-keygate-tags` set per request built such a batch.
 *
 * A batch the admin plane refuses for good (usage-refusal.ts: a 4xx that sending it again cannot
 * change), whatever the cause, would otherwise be sent again for ever with every later batch
 * queued behind it: it is handed to `setAside` (written to the spool's `refused/` area, or logged
 * in full) and the next batch goes. Transient failures (network, 5xx, 429, 401/403) still stop
 * the flush, to retry in order.
 *
 * With a journal (UsageSpool), a batch's id is fixed when it starts accumulating and all its
 * usage is journaled as it is recorded, so a stop or kill -9 leaves it on disk for the next
 * start, which hands it back through `enqueue` and sends it before anything new.
 */
import { newId } from '../../src/ids.js';
import { UsageRefusedError } from './usage-refusal.js';
import { usageItemId, type UsageItem, type UsageReport } from '../../src/usage/usage-report.js';

/**
 * Items per batch by default: a tenth of what `POST /internal/usage` accepts (100,000), and the
 * size issue 15 measured a flush at (10,000 distinct keys).
 */
export const MAX_BATCH_ITEMS = 10_000;

export interface UsageSink {
  postUsage(report: UsageReport): Promise<{ applied: boolean }>;
}

/** What UsageSpool offers the reporter (usage-spool.ts). */
export interface UsageJournal {
  begin(header: { gatewayId: string; batchId: string; batchSeq: number }): void;
  /**
   * One request's usage in scalars (UsageSpool.add), aggregated under `id`: the reporter's item
   * object (one per key × target × tag set in the batch).
   */
  add(
    batchId: string,
    id: unknown,
    keyId: string,
    target: string,
    requests: number,
    inputTokens: number,
    outputTokens: number,
    spendMicros: number,
    lastUsedAt: number,
    tags: readonly string[] | undefined,
  ): void;
  sealed(): void;
  acked(batchId: string): void;
}

export interface UsageReporterOptions {
  sink: UsageSink;
  gatewayId: string;
  /**
   * The first batch's `batchSeq` (default 1; each next batch adds 1). The admin plane answers a
   * key load with the highest seq of this gateway id it applied, and the gateway drops its own
   * batches up to it from its spend view, so a process reusing a predecessor's id
   * (KEYGATE_GATEWAY_ID) must number above it: gateway/main.ts starts at its start time in ms.
   */
  firstBatchSeq?: number;
  /** Called when a batch is sealed, before it is sent (MemorySpendStore.seal). */
  onSeal?: (batchSeq: number) => void;
  onError?: (error: unknown) => void;
  /**
   * Keeps a batch the admin plane refused for good (refused-batches.ts, or a full log line), so
   * the reporter can go on without losing it. When it throws, or is not given, the batch stays
   * first in the queue and is sent again at the next flush (nothing is dropped).
   */
  setAside?: (report: UsageReport, refusal: UsageRefusedError) => void;
  journal?: UsageJournal;
  /** Items per batch (default MAX_BATCH_ITEMS); the open batch is sealed when it has them. */
  maxBatchItems?: number;
}

/** What a stop left: batches sent during it, and what could not be sent (kept by the journal). */
export interface UsageStopSummary {
  sentBatches: number;
  unsentBatches: number;
  unsentRequests: number;
}

export class UsageReporter {
  /** Items of the open batch, in recording order. */
  private items: UsageItem[] = [];
  /** Items without tags by key id: the first target a key used in the batch. */
  private byKey = new Map<string, UsageItem>();
  /** The other items (tag sets, a key's further targets) by `usageItemId`. */
  private byId = new Map<string, UsageItem>();
  private open: { batchId: string; batchSeq: number } | undefined;
  /** Sealed batches not yet accepted, oldest first (recovered ones before this run's). */
  private queue: UsageReport[] = [];
  private seq: number;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Reports accepted by the admin plane (applied or already applied). */
  sentBatches = 0;
  failedSends = 0;
  /** Batches refused for good and handed to `setAside` (metrics, /readyz). */
  refusedBatches = 0;

  constructor(private readonly options: UsageReporterOptions) {
    this.seq = (options.firstBatchSeq ?? 1) - 1;
  }

  record(
    keyId: string,
    target: string,
    inputTokens: number,
    outputTokens: number,
    spendMicros: number,
    at: number,
    tags?: readonly string[],
  ): void {
    const journal = this.options.journal;
    if (this.open === undefined) {
      this.open = { batchId: newId('batch'), batchSeq: ++this.seq };
      journal?.begin({ gatewayId: this.options.gatewayId, ...this.open });
    }
    const batchId = this.open.batchId;
    // Requests with tags (x-keygate-tags) are aggregated per tag set, under their item id. Without
    // tags (nearly every request) the item is found by the key id string itself, which the cached
    // policy holds with its hash computed: no id string is built, hashed and compared per request.
    let item: UsageItem | undefined;
    let id: string | undefined;
    if (tags === undefined) {
      item = this.byKey.get(keyId);
      if (item !== undefined && item.target !== target) {
        id = usageItemId(keyId, target, undefined);
        item = this.byId.get(id);
      }
    } else {
      id = usageItemId(keyId, target, tags);
      item = this.byId.get(id);
    }
    if (item === undefined) {
      // One literal, tags added when present: no spread of a conditional literal per new item
      // (one per request when keys seldom repeat within a flush interval, issue 15).
      const fresh: UsageItem = {
        keyId,
        target,
        requests: 1,
        inputTokens,
        outputTokens,
        spendMicros,
        lastUsedAt: at,
      };
      if (tags !== undefined) fresh.tags = [...tags];
      journal?.add(batchId, fresh, keyId, target, 1, inputTokens, outputTokens, spendMicros, at, tags);
      if (id === undefined) this.byKey.set(keyId, fresh);
      else this.byId.set(id, fresh);
      this.items.push(fresh);
      if (this.items.length >= (this.options.maxBatchItems ?? MAX_BATCH_ITEMS)) this.seal();
      return;
    }
    journal?.add(batchId, item, keyId, target, 1, inputTokens, outputTokens, spendMicros, at, tags);
    item.requests++;
    item.inputTokens += inputTokens;
    item.outputTokens += outputTokens;
    item.spendMicros += spendMicros;
    if (at > item.lastUsedAt) item.lastUsedAt = at;
  }

  /** Batches of an earlier run (from the spool), sent before this run's. */
  enqueue(reports: readonly UsageReport[]): void {
    this.queue.unshift(...reports);
  }

  /** Items recorded but not yet accepted by the admin plane (tests, /readyz). */
  get pendingItems(): number {
    let total = this.items.length;
    for (const report of this.queue) total += report.items.length;
    return total;
  }

  /** Requests recorded but not yet accepted by the admin plane. */
  get pendingRequests(): number {
    let total = 0;
    for (const item of this.items) total += item.requests;
    for (const report of this.queue) for (const item of report.items) total += item.requests;
    return total;
  }

  get unsentBatches(): number {
    return this.queue.length + (this.items.length > 0 ? 1 : 0);
  }

  /** Sends the unsent batches if any, then seals and sends what was recorded. Never throws. */
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

  /** Stops the timer and makes a last attempt to send everything; says what is left. */
  async stop(): Promise<UsageStopSummary> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const sentBefore = this.sentBatches;
    await this.flush();
    if (this.items.length > 0 && this.queue.length === 0) await this.flush();
    return {
      sentBatches: this.sentBatches - sentBefore,
      unsentBatches: this.unsentBatches,
      unsentRequests: this.pendingRequests,
    };
  }

  private seal(): void {
    if (this.items.length === 0 || this.open === undefined) return;
    const { batchId, batchSeq } = this.open;
    this.queue.push({
      gatewayId: this.options.gatewayId,
      batchId,
      batchSeq,
      items: this.items,
    });
    this.items = [];
    this.byKey = new Map();
    this.byId = new Map();
    this.open = undefined;
    this.options.onSeal?.(batchSeq);
    this.options.journal?.sealed();
  }

  private async flushOnce(): Promise<void> {
    // The batches that failed before go first, then what was recorded is sealed (once per
    // flush: under steady load a flush still ends) and sent.
    let sealed = false;
    for (;;) {
      if (this.queue.length === 0) {
        if (sealed) return;
        this.seal();
        sealed = true;
        if (this.queue.length === 0) return;
      }
      const report = this.queue[0]!;
      try {
        await this.options.sink.postUsage(report);
      } catch (error) {
        this.failedSends++;
        const kept = error instanceof UsageRefusedError ? this.setAside(report, error) : error;
        if (kept !== undefined) {
          this.options.onError?.(kept);
          return;
        }
        continue;
      }
      this.queue.shift();
      this.sentBatches++;
      this.options.journal?.acked(report.batchId);
    }
  }

  /** Hands the refused batch (first in the queue) to `setAside`; what failed, if it could not. */
  private setAside(report: UsageReport, refusal: UsageRefusedError): unknown {
    if (this.options.setAside === undefined) return refusal;
    try {
      this.options.setAside(report, refusal);
    } catch (error) {
      return error;
    }
    this.queue.shift();
    this.refusedBatches++;
    // Kept elsewhere now: the journal need not replay it at the next start.
    this.options.journal?.acked(report.batchId);
    return undefined;
  }
}
