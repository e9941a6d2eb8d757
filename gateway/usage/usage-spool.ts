/**
 * The gateway's local usage journal (issue 13, faults 1 and 2): every usage batch, while it is
 * still accumulating, is appended to a spool file under `KEYGATE_SPOOL_DIR`, so neither a stop
 * with the admin plane away nor a kill -9 loses the spend it holds.
 *
 * File: one JSON object per line, in segments named `usage-<pid>-<startMs>-<n>.spool`.
 *   {"open":{"gatewayId","batchId","batchSeq"}}        a batch starts accumulating
 *   {"add":"<batchId>","items":[[key,target,req,in,out,spend,at],...]}  usage since the last line
 *   {"ack":"<batchId>"}                                 the admin plane accepted the batch
 * A torn last line (kill -9 mid-write) is ignored.
 *
 * Promises:
 * - usage is buffered and written (write(2), one call) at most `writeEveryMs` (100 ms) after it
 *   was recorded, and synchronously before its batch is sent, so a sent batch's id always names
 *   exactly the items on disk: replay resends the same (gatewayId, batchId) with the same items,
 *   and the admin plane applies it at most once;
 * - fsync policy: the file is fdatasync'ed when a batch is sealed (once per usage flush interval)
 *   and at close. A killed process loses at most the last `writeEveryMs`; a crashed host may
 *   lose the batch accumulating since the last seal;
 * - `open` takes over the segments of gateways that are no longer running (their pid is gone;
 *   the take-over is an atomic rename, so two starting gateways never both take one) and hands
 *   back their unacknowledged batches for replay; segments whose batches are all acknowledged
 *   are deleted, and the current one is rotated past `maxSegmentBytes`. A segment named with
 *   this process's own pid belongs to it only while a spool of this process has it open: a
 *   restarted gateway in a container usually gets its predecessor's pid, and took that for a
 *   live owner, so the usage its predecessor left was never replayed.
 */
import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { usageItemId, type UsageItem, type UsageReport } from '../../src/usage/usage-report.js';
import { readSpoolSegments } from './spool-reader.js';

export interface UsageSpoolOptions {
  dir: string;
  /** Buffered usage reaches the file at most this long after it was recorded (default 100). */
  writeEveryMs?: number;
  /** A segment larger than this is rotated at the next batch (default 8 MiB). */
  maxSegmentBytes?: number;
  /**
   * Whether the gateway that owns a segment still runs (default: its pid answers signal 0, and
   * for this process's own pid, one of its spools has the segment open).
   */
  isOwnerAlive?: (pid: number, path: string) => boolean;
}

export interface SpoolHeader {
  gatewayId: string;
  batchId: string;
  batchSeq: number;
}

/** Key, target, requests, tokens in, tokens out, spend, last used, and the tag set when there is one. */
type Row = [string, string, number, number, number, number, number, string[]?];

interface Segment {
  path: string;
  unacked: Set<string>;
}

export class UsageSpool {
  private fd: number;
  private segment: Segment;
  private readonly segments: Segment[] = [];
  private lines: string[] = [];
  /** Usage recorded since the last write, per batch then per key+target. */
  private pending = new Map<string, Map<unknown, Row>>();
  private readonly timer: NodeJS.Timeout;
  private segmentNo = 0;
  private bytes = 0;
  private readonly startedAt = Date.now();
  private closed = false;

  /**
   * Opens a new segment in `dir` and returns the unacknowledged batches of dead gateways, and how
   * many of their lines and rows could not be read (spool-reader.ts: torn or damaged).
   */
  static open(options: UsageSpoolOptions): { spool: UsageSpool; recovered: UsageReport[]; skipped: number } {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const alive = options.isOwnerAlive ?? ownerAlive;
    const claimed: string[] = [];
    for (const name of readdirSync(options.dir)) {
      const match = /^usage-(\d+)-\d+-\w+\.spool$/.exec(name);
      if (match === null || alive(Number(match[1]), join(options.dir, name))) continue;
      const to = join(options.dir, `usage-${process.pid}-${Date.now()}-r${claimed.length}.spool`);
      try {
        renameSync(join(options.dir, name), to);
        claimed.push(to);
      } catch {
        // another starting gateway took it first
      }
    }
    const { batches, acked, skipped } = readSpoolSegments(claimed.map((path) => readFileSync(path, 'utf8')));
    const spool = new UsageSpool(options);
    const recovered: UsageReport[] = [];
    for (const [index, path] of claimed.entries()) {
      const unacked = new Set<string>();
      for (const batch of batches[index] ?? []) {
        if (acked.has(batch.batchId) || batch.items.length === 0) continue;
        unacked.add(batch.batchId);
        recovered.push(batch);
      }
      spool.segments.push({ path, unacked });
      openHere.add(resolve(path));
    }
    spool.dropDone();
    return { spool, recovered, skipped };
  }

  private constructor(private readonly options: UsageSpoolOptions) {
    this.segment = { path: '', unacked: new Set() };
    this.fd = this.openSegment();
    this.timer = setInterval(() => this.writeNow(), options.writeEveryMs ?? 100);
    this.timer.unref();
  }

  /** Bytes currently held by spool files (metrics). */
  get sizeBytes(): number {
    let total = this.bytes;
    for (const segment of this.segments) {
      if (segment === this.segment) continue;
      try {
        total += statSync(segment.path).size;
      } catch {
        // deleted meanwhile
      }
    }
    return total;
  }

  /** Batches recorded here or recovered and not yet acknowledged. */
  get unackedBatches(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.unacked.size;
    return total;
  }

  get path(): string {
    return this.segment.path;
  }

  /** A batch starts accumulating (its id is fixed now, before any of its usage is written). */
  begin(header: SpoolHeader): void {
    if (this.bytes > (this.options.maxSegmentBytes ?? 8 * 1024 * 1024)) this.rotate();
    this.segment.unacked.add(header.batchId);
    this.lines.push(JSON.stringify({ open: header }));
  }

  record(batchId: string, keyId: string, target: string, usage: Omit<UsageItem, 'keyId' | 'target'>): void {
    this.add(
      batchId,
      usageItemId(keyId, target, usage.tags),
      keyId,
      target,
      usage.requests,
      usage.inputTokens,
      usage.outputTokens,
      usage.spendMicros,
      usage.lastUsedAt,
      usage.tags,
    );
  }

  /**
   * `record` in scalars, aggregated under `id`: any value standing for one key × target × tag set
   * of the batch (the usage reporter passes its item object, found without building an id string;
   * `record` the item id). No usage object and no id string per request (issue 15).
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
  ): void {
    let rows = this.pending.get(batchId);
    if (rows === undefined) {
      rows = new Map();
      this.pending.set(batchId, rows);
    }
    const row = rows.get(id);
    if (row === undefined) {
      const fresh: Row = [keyId, target, requests, inputTokens, outputTokens, spendMicros, lastUsedAt];
      if (tags !== undefined) fresh.push([...tags]);
      rows.set(id, fresh);
      return;
    }
    row[2] += requests;
    row[3] += inputTokens;
    row[4] += outputTokens;
    row[5] += spendMicros;
    if (lastUsedAt > row[6]) row[6] = lastUsedAt;
  }

  /** The batch is about to be sent: everything of it reaches the disk first. */
  sealed(): void {
    this.writeNow();
    if (!this.closed) fdatasyncSync(this.fd);
  }

  acked(batchId: string): void {
    this.lines.push(JSON.stringify({ ack: batchId }));
    for (const segment of this.segments) segment.unacked.delete(batchId);
    this.dropDone();
  }

  /** Writes what is buffered (one write call). */
  writeNow(): void {
    if (this.closed) return;
    for (const [batchId, rows] of this.pending) {
      this.lines.push(JSON.stringify({ add: batchId, items: [...rows.values()] }));
    }
    this.pending = new Map();
    if (this.lines.length === 0) return;
    const text = this.lines.join('\n') + '\n';
    this.lines = [];
    const buffer = Buffer.from(text);
    writeSync(this.fd, buffer);
    this.bytes += buffer.length;
  }

  /**
   * Writes and syncs what is left and closes; a spool with nothing unacknowledged is deleted.
   * Returns how many batches it keeps for the next start.
   */
  close(): number {
    if (this.closed) return this.unackedBatches;
    clearInterval(this.timer);
    this.writeNow();
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
    for (const segment of this.segments) openHere.delete(resolve(segment.path));
    this.dropDone(true);
    return this.unackedBatches;
  }

  private openSegment(): number {
    const path = join(
      this.options.dir,
      `usage-${process.pid}-${this.startedAt}-${String(this.segmentNo++).padStart(4, '0')}.spool`,
    );
    this.segment = { path, unacked: new Set() };
    this.segments.push(this.segment);
    openHere.add(resolve(path));
    this.bytes = 0;
    // 0600 like the database: usage names keys, teams and spend.
    return openSync(path, 'a', 0o600);
  }

  private rotate(): void {
    this.writeNow();
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.fd = this.openSegment();
    this.dropDone();
  }

  /** Deletes segments (other than the open one, unless closing) with nothing left to send. */
  private dropDone(includingCurrent = false): void {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.unacked.size > 0 || (segment === this.segment && !includingCurrent)) continue;
      try {
        unlinkSync(segment.path);
      } catch {
        // already gone
      }
      this.segments.splice(i, 1);
      openHere.delete(resolve(segment.path));
    }
  }
}

/** Segments held by the spools of this process (open, or recovered and not yet sent). */
const openHere = new Set<string>();

function ownerAlive(pid: number, path: string): boolean {
  if (pid === process.pid) return openHere.has(resolve(path));
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
