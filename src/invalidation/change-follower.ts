/**
 * Follows the admin plane's change log on a gateway (DESIGN.md "Invalidation"). Pushes are
 * applied as soon as they arrive (every change only evicts, so applying early is always safe);
 * `lastSeq` advances only over a contiguous run, and a gap makes it pull the missing range from
 * the feed. A periodic `pull()` repairs lost pushes. Pulls are serialized; a change is applied
 * once: a change whose application throws is released again, so the next pull retries it
 * (a target change whose catalog reload failed was skipped for good).
 *
 * A change log restored from a backup (or replaced by a new database) numbers its next changes
 * from its own head, below this follower's cursor: they would be taken for changes already
 * applied. The follower tells it in two ways, and then calls `onReset` (drop every cached policy,
 * reload the catalog) and follows the log from where it stands:
 * - behind: the feed's head is below a seq this follower received from it before asking (only
 *   what was received before the pull was sent counts: a push may arrive while it is in flight);
 * - diverged: the log has since recorded more changes than it lost, so its head is above the
 *   cursor again, but the change at a seq this follower applied is another one (`sameChange`).
 *   A pull asks after `base`, the last change a pull read (not after the cursor, which pushes
 *   move), and compares the change the feed says it follows (`previous`) with `base`, and each
 *   change it reads again with the one it applied from a push. A push at a seq already passed
 *   whose change is not the one applied there makes it pull at once.
 */
import type { Clock } from '../clock.js';
import { sameChange, type Change, type ChangeBatch, type ChangePage } from './change.js';

/** The change feed (`GET /internal/changes?after=&limit=`). */
export interface ChangeFeed {
  changesAfter(seq: number, limit: number): Promise<ChangePage>;
}

/** Why the follower reset: the log's head went below it, or the log holds other changes. */
export type ResetReason = 'behind' | 'diverged';

export interface ChangeFollowerOptions {
  feed: ChangeFeed;
  /** Applies one change (evictions, catalog reloads); awaited in seq order. */
  apply: (change: Change) => void | Promise<void>;
  clock: Clock;
  pageSize?: number;
  /** Called with `now - change.at` for every change applied (invalidation lag metric). */
  onApplied?: (change: Change, lagMs: number) => void;
  /**
   * The feed's log was restored or replaced: every cached decision may be wrong and no change
   * seq can be trusted to name it. `seq` is the feed's answer (its head, or the last change of
   * the page that showed it). Awaited before the follower moves its cursor.
   */
  onReset?: (seq: number, reason: ResetReason) => void | Promise<void>;
}

/** A seq the feed vouched for, and its change (null: none at or below it; undefined: not known). */
interface Base {
  seq: number;
  change: Change | null | undefined;
}

export class ChangeFollower {
  private seq: number | undefined;
  /**
   * Changes above `seq` whose application has begun (from a push after a gap, or from a push
   * and a pull racing each other): each is applied once.
   */
  private readonly started = new Set<number>();
  /** What the next pull asks after: the last change a pull read (or the start, or a reset). */
  private base: Base | undefined;
  /** Changes above `base` applied (or being applied), as received: a pull reads them again. */
  private readonly held = new Map<number, Change>();
  /** The highest seq received from the feed or a push: the log held it (at least) then. */
  private highest = 0;
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

  /**
   * Starting point: the seq the target catalog was read at (`GET /internal/targets`) and the
   * change there (`last`). Without it (an older admin plane), the first pull takes the feed's
   * word for that change.
   */
  start(seq: number, last?: Change | null): void {
    if (this.seq === undefined || seq > this.seq) {
      this.seq = seq;
      this.base = {
        seq,
        change: seq === 0 ? null : last !== undefined && (last?.seq ?? 0) === seq ? last : undefined,
      };
      this.forgetHeldUpTo(seq);
      this.highest = Math.max(this.highest, seq);
    }
    this.lastSyncAt = this.options.clock.now();
  }

  /** A pushed batch (`POST /internal/invalidate`). Resolves once it (and any gap) is applied. */
  async receive(batch: ChangeBatch): Promise<void> {
    const changes = [...batch.changes].sort((a, b) => a.seq - b.seq);
    let recheck = false;
    for (const change of changes) {
      this.highest = Math.max(this.highest, change.seq);
      if (!this.claim(change)) {
        // Already passed or being applied: fine if it is the change applied there; otherwise the
        // log may have been restored (a pull tells).
        recheck ||= !this.holds(change);
        continue;
      }
      await this.applyOne(change);
      this.advanceContiguous();
    }
    if (recheck || (this.seq !== undefined && batch.seq > this.seq)) await this.pull();
  }

  /** Pulls every change after `base` (serialized: concurrent callers share or queue one pull). */
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
      const base = this.base!;
      const received = Math.max(this.highest, this.seq!);
      const page = await this.options.feed.changesAfter(base.seq, this.pageSize);
      const lastPage = page.changes.length < this.pageSize;
      // A last page's seq is the head: below a seq received before asking, the log went back.
      if (lastPage && page.seq < received) {
        await this.reset(page, { seq: page.seq, change: this.changeAt(page.seq, page) }, 'behind');
        return;
      }
      // The page is then the log as it now stands after `base.seq`: applied from scratch.
      if (this.diverged(base, page))
        await this.reset(page, { seq: base.seq, change: page.previous }, 'diverged');
      for (const change of page.changes) {
        if (this.claim(change)) await this.applyOne(change);
      }
      // Everything up to the page's seq is now applied (or being applied by a push); seqs that
      // do not exist in the log (holes) are passed over too.
      if (page.seq > this.seq!) this.seq = page.seq;
      const newest = page.changes.at(-1);
      if (newest !== undefined) this.base = { seq: newest.seq, change: newest };
      else if (this.base!.change === undefined && page.previous !== undefined)
        this.base = { seq: base.seq, change: page.previous }; // taken on the feed's word (start)
      this.forgetHeldUpTo(this.base!.seq);
      this.advanceContiguous();
      this.lastSyncAt = this.options.clock.now();
      if (lastPage) return;
    }
  }

  /**
   * The feed holds another change than this follower applied: at `base` (an admin plane that
   * sends `previous`), or at a seq it applied from a push and now reads again.
   */
  private diverged(base: Base, page: ChangePage): boolean {
    const previous = page.previous;
    if (previous !== undefined) {
      if (base.change === undefined ? (previous?.seq ?? 0) !== base.seq : !sameChange(base.change, previous))
        return true;
    }
    return page.changes.some((change) => {
      const held = this.held.get(change.seq);
      return held !== undefined && !sameChange(held, change);
    });
  }

  /** The change at `seq` as a page shows it, undefined when it does not. */
  private changeAt(seq: number, page: ChangePage): Change | null | undefined {
    const newest = page.changes.at(-1);
    if (newest !== undefined) return newest.seq === seq ? newest : undefined;
    const previous = page.previous;
    if (previous === undefined) return undefined;
    return (previous?.seq ?? 0) === seq ? previous : undefined;
  }

  /** True when the caller must apply this change (not applied, not being applied). */
  private claim(change: Change): boolean {
    if (this.seq !== undefined && change.seq <= this.seq) return false;
    if (this.started.has(change.seq)) return false;
    this.started.add(change.seq);
    this.held.set(change.seq, change);
    return true;
  }

  /** This very change is applied (or being applied) at its seq. */
  private holds(change: Change): boolean {
    const held = this.held.get(change.seq);
    return held !== undefined && sameChange(held, change);
  }

  private advanceContiguous(): void {
    if (this.seq === undefined) return;
    for (const seq of this.started) if (seq <= this.seq) this.started.delete(seq);
    while (this.started.has(this.seq + 1)) {
      this.seq++;
      this.started.delete(this.seq);
    }
  }

  private forgetHeldUpTo(seq: number): void {
    for (const held of this.held.keys()) if (held <= seq) this.held.delete(held);
  }

  private async applyOne(change: Change): Promise<void> {
    try {
      await this.options.apply(change);
    } catch (error) {
      // Released: the next pull reads it from the feed again (it is above the cursor).
      this.started.delete(change.seq);
      this.held.delete(change.seq);
      throw error;
    }
    this.options.onApplied?.(change, this.options.clock.now() - change.at);
  }

  /** Forgets everything applied: the follower stands at `from` of the log as it now is. */
  private async reset(page: ChangePage, from: Base, reason: ResetReason): Promise<void> {
    await this.options.onReset?.(page.seq, reason);
    this.seq = from.seq;
    this.base = from;
    this.started.clear();
    this.held.clear();
    this.highest = from.seq;
    this.lastSyncAt = this.options.clock.now();
  }
}
