/**
 * Usage batches the admin plane refused for good (usage-refusal.ts), kept on disk under
 * `<KEYGATE_SPOOL_DIR>/refused/` until `keygate usage replay` sends them again: nothing recorded
 * is dropped, and nothing waits behind them.
 *
 * One file per batch, `usage-<batchId>.json`: `{ refusedAt, status, error, report }` where
 * `report` is the wire body of `POST /internal/usage` (same gatewayId, batchId and batchSeq, so
 * a replay the admin plane already applied is not counted twice). Written to a temporary name,
 * fsync'ed, then renamed: a file there is always whole. 0600 in a 0700 directory, like the
 * spool: usage names keys, teams and spend.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
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
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(record) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    return path;
  }

  /** The kept batches' paths, in name order (none when the area does not exist). */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names
      .filter((name) => /^usage-.+\.json$/.test(name))
      .sort()
      .map((name) => join(this.dir, name));
  }

  read(path: string): RefusedBatchFile {
    return JSON.parse(readFileSync(path, 'utf8')) as RefusedBatchFile;
  }

  remove(path: string): void {
    unlinkSync(path);
  }
}

/** Batch ids are the gateway's own (`batch_…`), but a recovered spool could hold anything. */
function fileName(batchId: string): string {
  return `usage-${batchId.replace(/[^\w.-]/g, '_')}.json`;
}
