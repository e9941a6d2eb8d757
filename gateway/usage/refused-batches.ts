/**
 * Usage batches the admin plane refused for good (usage-refusal.ts), kept on disk under
 * `<KEYGATE_SPOOL_DIR>/refused/` until `keygate usage replay` sends them again: nothing recorded
 * is dropped, and nothing waits behind them.
 *
 * One file per batch, `usage-<batchId>.json`: `{ refusedAt, status, error, report }` where
 * `report` is the wire body of `POST /internal/usage` (same gatewayId, batchId and batchSeq, so
 * a replay the admin plane already applied is not counted twice). Written to a temporary name,
 * fsync'ed, then renamed: a file there is always whole. A failed write removes its temporary; one
 * left by a killed gateway is never listed, and `keygate usage replay` removes it once stale. 0600 in a 0700 directory, like the
 * spool: usage names keys, teams and spend.
 */
import {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { usageReportToWire, type UsageReport, type UsageReportWire } from '../../src/usage/usage-report.js';

export interface RefusedBatchFile {
  /** Epoch ms of the refusal. */
  refusedAt: number;
  status: number;
  /** The admin plane's answer body. */
  error: string;
  report: UsageReportWire;
}

export class RefusedBatches {
  /** `dir` is the refused area itself (`<spool dir>/refused`). */
  constructor(readonly dir: string) {}

  /** The refused area of a spool directory. */
  static inSpool(spoolDir: string): RefusedBatches {
    return new RefusedBatches(join(spoolDir, 'refused'));
  }

  /** Writes the batch durably; returns its path. Throws when the disk refuses (caller logs it). */
  keep(report: UsageReport, refusal: { status: number; body: string }, refusedAt: number): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const record: RefusedBatchFile = {
      refusedAt,
      status: refusal.status,
      error: refusal.body,
      report: usageReportToWire(report),
    };
    const path = join(this.dir, fileName(report.batchId));
    const temporary = `${path}${TEMPORARY_SUFFIX}`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      try {
        writeSync(fd, JSON.stringify(record) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, path);
    } catch (error) {
      // A write that failed part-way (disk full, EIO, the final name taken by a directory) leaves
      // no half-written temporary behind: the caller logs the whole batch instead.
      this.remove(temporary);
      throw error;
    }
    return path;
  }

  /**
   * Removes the temporary files (`usage-….json.tmp`) last modified more than `olderThanMs` before
   * `now`, and returns their paths. Such a file is what a gateway killed between its write and
   * its rename left: never a whole batch to replay (the batch was still unacknowledged in the
   * spool journal, so the next start sends it again and sets it aside again). A younger one may be
   * a running gateway's write in flight (milliseconds), so it is left alone. `list` never returns
   * temporaries either way.
   */
  removeStaleTemporaries(now: number, olderThanMs = STALE_TEMPORARY_MS): string[] {
    const removed: string[] = [];
    for (const name of this.names()) {
      if (!/^usage-.+\.json\.tmp$/.test(name)) continue;
      const path = join(this.dir, name);
      let info;
      try {
        info = lstatSync(path);
      } catch {
        continue; // renamed or removed meanwhile
      }
      if (!info.isFile() || info.mtimeMs > now - olderThanMs) continue;
      this.remove(path);
      removed.push(path);
    }
    return removed.sort();
  }

  /** The names in the area (none when it does not exist). */
  private names(): string[] {
    try {
      return readdirSync(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** The kept batches' paths, in name order (none when the area does not exist). */
  list(): string[] {
    return this.names()
      .filter((name) => /^usage-.+\.json$/.test(name))
      .sort()
      .map((name) => join(this.dir, name));
  }

  /**
   * The kept batch; throws when the file is not one (any file can land in the area by hand). Only
   * a regular file of at most MAX_FILE_BYTES is read, never through a symlink (the area is the
   * gateway's own; a link could point anywhere the replaying user can read), and a parse error
   * says what is wrong without quoting the file.
   */
  read(path: string): RefusedBatchFile {
    const info = lstatSync(path);
    if (!info.isFile()) throw new Error('not a regular file (symlinks and directories are not read)');
    if (info.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    let record: unknown;
    try {
      record = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      throw new Error('not JSON');
    }
    if (!isRefusedBatchFile(record))
      throw new Error('not a set-aside usage batch (no report with batch_id and items of objects)');
    return record;
  }

  /** Removes an applied batch; already gone is fine (two replays racing over the same area). */
  remove(path: string): void {
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

const TEMPORARY_SUFFIX = '.tmp';

/** A temporary older than this is no write in flight (a write takes milliseconds). */
export const STALE_TEMPORARY_MS = 60_000;

/**
 * The largest set-aside file read: a batch holds at most 100,000 items (what the admin plane
 * accepts), well under 64 MiB of JSON.
 */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Batch ids are the gateway's own (`batch_…`), but a recovered spool could hold anything: an id
 * with other characters gets a digest of itself too, or two ids differing only there (`a/1`,
 * `a:1`) shared one file and the second batch set aside replaced the first.
 */
function fileName(batchId: string): string {
  const safe = batchId.replace(/[^\w.-]/g, '_');
  if (safe === batchId) return `usage-${safe}.json`;
  return `usage-${safe}-${createHash('sha256').update(batchId).digest('hex').slice(0, 16)}.json`;
}

/** The shape `read` relies on: a report with its ids and an array of objects (their fields are checked by the admin plane). */
function isRefusedBatchFile(record: unknown): record is RefusedBatchFile {
  if (typeof record !== 'object' || record === null) return false;
  const report = (record as { report?: unknown }).report;
  if (typeof report !== 'object' || report === null) return false;
  const wire = report as Partial<Record<keyof UsageReportWire, unknown>>;
  return (
    typeof wire.gateway_id === 'string' &&
    typeof wire.batch_id === 'string' &&
    typeof wire.batch_seq === 'number' &&
    Array.isArray(wire.items) &&
    // An item that is no object (null, a number) made the replay's conversion throw, taken for
    // an admin plane away: the batches after it were left untried.
    wire.items.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item))
  );
}
