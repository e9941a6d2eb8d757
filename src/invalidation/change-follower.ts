/**
 * Follows the admin plane's change log on a gateway (DESIGN.md "Invalidation"). Pushes are
 * applied as soon as they arrive (every change only evicts, so applying early is always safe);
 * `lastSeq` advances only over a contiguous run, and a gap makes it pull the missing range from
 * the feed. A periodic `pull()` repairs lost pushes. Pulls are serialized; a change is applied
 * once: a change whose application throws is released again, so the next pull retries it
 * (a target change whose catalog reload failed was skipped for good).
 *
 * A feed whose head is below the seq a pull asked after (the admin plane restored from a backup,
 * or given a new database) numbers its next changes from below this follower's cursor, and they
 * would all be taken for changes already applied: the follower calls `onReset` (drop every cached
 * policy, reload the catalog) and follows the feed from its head. Only `after` counts, not the
 * cursor at the answer: a push may have moved the cursor while the pull's answer was in flight.
 */
import type { Clock } from '../clock.js';
import type { Change, ChangeBatch } from './change.js';

/** The change feed (`GET /internal/changes?after=&limit=`). */
export interface ChangeFeed {
  changesAfter(seq: number, limit: number): Promise<ChangeBatch>;
}

export interface ChangeFollowerOptions {
  feed: ChangeFeed;
  /** Applies one change (evictions, catalog reloads); awaited in seq order. */
  apply: (change: Change) => void | Promise<void>;
  clock: Clock;
  pageSize?: number;
  /** Called with `now - change.at` for every change applied (invalidation lag metric). */
  onApplied?: (change: Change, lagMs: number) => void;
  /**
   * The feed's head went below the cursor (its log was restored or replaced): every cached
   * decision may be wrong and no change seq can be trusted to name it. Awaited before the
   * follower moves its cursor to `head`.
   */
  onReset?: (head: number) => void | Promise<void>;
}

export class ChangeFollower {
  private seq: number | undefined;
  /**
   * Changes above `seq` whose application has begun (from a push after a gap, or from a push
   * and a pull racing each other): each is applied once.
   */
  private readonly started = new Set<number>();
  private pulling: Promise<void> | undefined;
  private pullAgain = false;
  private lastSyncAt: number | undefined;
  private readonly pageSize: number;

  constructor(private readonly options: ChangeFollowerOptions) {
    this.pageSize = options.pageSize ?? 1000;
  }

  /** Highest seq up to which every change is applied (undefined before `start`). */
  get lastSeq(): number | undefined {
    return this.seq;
  }

  /** Epoch ms of the last successful pull (or start), undefined if none yet. */
  get lastSyncedAt(): number | undefined {
    return this.lastSyncAt;
  }

  /** Starting point: the seq the target catalog was read at (`GET /internal/targets`). */
  start(seq: number): void {
    if (this.seq === undefined || seq > this.seq) this.seq = seq;
    this.lastSyncAt = this.options.clock.now();
  }

  /** A pushed batch (`POST /internal/invalidate`). Resolves once it (and any gap) is applied. */
  async receive(batch: ChangeBatch): Promise<void> {
    const changes = [...batch.changes].sort((a, b) => a.seq - b.seq);
    for (const change of changes) {
      if (!this.claim(change.seq)) continue;
      await this.applyOne(change);
      this.advanceContiguous();
    }
    if (this.seq !== undefined && batch.seq > this.seq) await this.pull();
  }

  /** Pulls every change after `lastSeq` (serialized: concurrent callers share or queue one pull). */
  pull(): Promise<void> {
    if (this.seq === undefined) return Promise.resolve();
    if (this.pulling !== undefined) {
      this.pullAgain = true;
      return this.pulling;
    }
    this.pulling = (async () => {
      try {
        do {
          this.pullAgain = false;
          await this.pullAll();
        } while (this.pullAgain);
      } finally {
        this.pulling = undefined;
      }
    })();
    return this.pulling;
  }

  private async pullAll(): Promise<void> {
    for (;;) {
      const after = this.seq!;
      const batch = await this.options.feed.changesAfter(after, this.pageSize);
      if (batch.changes.length === 0 && batch.seq < after) {
        await this.reset(batch.seq);
        return;
      }
      for (const change of batch.changes) {
        if (this.claim(change.seq)) await this.applyOne(change);
      }
      // Everything up to the batch's seq is now applied (or being applied by a push); seqs that
      // do not exist in the log (holes) are passed over too.
      if (batch.seq > this.seq!) this.seq = batch.seq;
      this.advanceContiguous();
      this.lastSyncAt = this.options.clock.now();
      if (batch.changes.length < this.pageSize) return;
    }
  }

  /** True when the caller must apply this change (not applied, not being applied). */
  private claim(seq: number): boolean {
    if (this.seq !== undefined && seq <= this.seq) return false;
    if (this.started.has(seq)) return false;
    this.started.add(seq);
    return true;
  }

  private advanceContiguous(): void {
    if (this.seq === undefined) return;
    for (const seq of this.started) if (seq <= this.seq) this.started.delete(seq);
    while (this.started.has(this.seq + 1)) {
      this.seq++;
      this.started.delete(this.seq);
    }
  }

  private async applyOne(change: Change): Promise<void> {
    try {
      await this.options.apply(change);
    } catch (error) {
      // Released: the next pull reads it from the feed again (it is above the cursor).
      this.started.delete(change.seq);
      throw error;
    }
    this.options.onApplied?.(change, this.options.clock.now() - change.at);
  }

  private async reset(head: number): Promise<void> {
    await this.options.onReset?.(head);
    this.seq = head;
    this.started.clear();
    this.lastSyncAt = this.options.clock.now();
  }
}
