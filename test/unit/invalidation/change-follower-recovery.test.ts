/**
 * The change follower when applying a change fails, and when the admin plane's change log is
 * behind the gateway's cursor.
 *
 * - A change whose application throws (a target change whose catalog reload met a busy or
 *   restarting admin plane) was claimed before it was applied and never released: every later
 *   pull skipped it and moved past it, so the gateway kept routing and pricing with the old
 *   catalog until some other target change came along.
 * - An admin plane restored from a backup (or pointed at a new database) numbers its changes
 *   from below the gateway's cursor again; the gateway asked for `after=<its cursor>`, got no
 *   changes and the lower head, and ignored every push and pull until the log passed its old
 *   cursor (test/integration/attack/admin-restore-feed.test.ts shows it with real planes).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { ChangeFollower, type ChangeFeed } from '../../../src/invalidation/change-follower.js';
import type { Change, ChangePage } from '../../../src/invalidation/change.js';

function change(seq: number, at = 0): Change {
  return { seq, at, entityType: 'key', entityId: `key_${seq}`, tokenHashes: [`hash_${seq}`] };
}

/**
 * Served like the admin plane's GET /internal/changes: `seq` is the last change read, else the
 * head; `previous` is the last change at or below `after` (null when none). Each change is stamped
 * with the time of its append, so a log restored and written again holds other changes at the
 * same seqs, as a real one does.
 */
class AdminLikeFeed implements ChangeFeed {
  log: Change[] = [];
  failing = false;
  private now = 1;
  async changesAfter(after: number, limit: number): Promise<ChangePage> {
    if (this.failing) throw new Error('admin plane down');
    const changes = this.log.filter((c) => c.seq > after).slice(0, limit);
    const head = this.log.at(-1)?.seq ?? 0;
    const previous = this.log.filter((c) => c.seq <= after).at(-1) ?? null;
    return { seq: changes.at(-1)?.seq ?? head, changes, previous };
  }
  append(count: number): Change[] {
    const added: Change[] = [];
    for (let i = 0; i < count; i++) {
      const next = change((this.log.at(-1)?.seq ?? 0) + 1, this.now++);
      this.log.push(next);
      added.push(next);
    }
    return added;
  }
  /** The admin plane's database replaced by a backup holding the log up to `seq`. */
  restore(seq: number): void {
    this.log = this.log.filter((c) => c.seq <= seq);
  }
}

function following(feed: ChangeFeed) {
  const applied: number[] = [];
  const resets: number[] = [];
  const follower = new ChangeFollower({
    feed,
    clock: new ManualClock(),
    apply: (c) => void applied.push(c.seq),
    onReset: (head) => void resets.push(head),
  });
  follower.start(0);
  return { follower, applied, resets };
}

describe('ChangeFollower recovery', () => {
  it('a change whose application failed is applied again by the next pull, not skipped', async () => {
    const feed = new AdminLikeFeed();
    const applied: number[] = [];
    let failOnce = true;
    const follower = new ChangeFollower({
      feed,
      clock: new ManualClock(),
      apply: (c) => {
        if (c.seq === 2 && failOnce) {
          failOnce = false;
          throw new Error('injected: catalog reload failed');
        }
        applied.push(c.seq);
      },
    });
    follower.start(0);
    feed.append(3);
    await expect(follower.pull()).rejects.toThrow('injected');
    expect(applied).toEqual([1]);
    await follower.pull();
    expect(applied).toEqual([1, 2, 3]);
    expect(follower.lastSeq).toBe(3);
  });

  it('a pushed change whose application failed is applied again by the next pull', async () => {
    const feed = new AdminLikeFeed();
    const applied: number[] = [];
    let failOnce = true;
    const follower = new ChangeFollower({
      feed,
      clock: new ManualClock(),
      apply: (c) => {
        if (failOnce) {
          failOnce = false;
          throw new Error('injected');
        }
        applied.push(c.seq);
      },
    });
    follower.start(0);
    const [first] = feed.append(1);
    await expect(follower.receive({ seq: 1, changes: [first!] })).rejects.toThrow('injected');
    await follower.pull();
    expect(applied).toEqual([1]);
    expect(follower.lastSeq).toBe(1);
  });

  it('a change log behind the cursor (admin restored from a backup) resets the follower: later changes are applied', async () => {
    const feed = new AdminLikeFeed();
    const applied: number[] = [];
    const resets: number[] = [];
    const follower = new ChangeFollower({
      feed,
      clock: new ManualClock(),
      apply: (c) => void applied.push(c.seq),
      onReset: (head) => void resets.push(head),
    });
    follower.start(0);
    feed.append(50);
    await follower.pull();
    expect(follower.lastSeq).toBe(50);

    // The restored database holds the log up to seq 40; the next mutation gets seq 41.
    feed.log = feed.log.slice(0, 40);
    applied.length = 0;
    await follower.pull();
    expect(resets).toEqual([40]);
    expect(follower.lastSeq).toBe(40);
    const [revocation] = feed.append(1);
    // Its push is applied, not taken for a change already seen.
    await follower.receive({ seq: 41, changes: [revocation!] });
    expect(applied).toEqual([41]);
    expect(follower.lastSeq).toBe(41);
    await follower.pull();
    expect(applied).toEqual([41]);
  });

  it('a pull answered before a push advanced the cursor is no reset', async () => {
    const feed = new AdminLikeFeed();
    const applied: number[] = [];
    const resets: number[] = [];
    let releasePull: (() => void) | undefined;
    const slowFeed: ChangeFeed = {
      async changesAfter(after, limit) {
        const answer = await feed.changesAfter(after, limit);
        await new Promise<void>((resolve) => (releasePull = resolve));
        return answer;
      },
    };
    const follower = new ChangeFollower({
      feed: slowFeed,
      clock: new ManualClock(),
      apply: (c) => void applied.push(c.seq),
      onReset: (head) => void resets.push(head),
    });
    follower.start(0);
    const pulled = follower.pull(); // answered with head 0 ...
    await new Promise((resolve) => setImmediate(resolve));
    const [a] = feed.append(1); // ... while seq 1 is committed and pushed
    await follower.receive({ seq: 1, changes: [a!] }).catch(() => undefined);
    releasePull!();
    await pulled;
    expect(resets).toEqual([]);
    expect(applied).toEqual([1]);
    expect(follower.lastSeq).toBe(1);
  });

  it('a restored log that recorded more changes than it lost before the next pull resets the follower', async () => {
    const feed = new AdminLikeFeed();
    const { follower, applied, resets } = following(feed);
    feed.append(100);
    await follower.pull();
    // Restored to seq 90; 15 changes (a revocation among them at 95) before the next pull: the head
    // (105) is above the cursor (100), but the change at 100 is another one.
    feed.restore(90);
    feed.append(15);
    applied.length = 0;
    await follower.pull();
    expect(resets).toEqual([105]);
    expect(applied).toEqual([101, 102, 103, 104, 105]);
    expect(follower.lastSeq).toBe(105);
    await follower.pull();
    expect(resets).toEqual([105]);
  });

  it("a push of the restored log's next seq does not carry the follower into the new history unchecked", async () => {
    const feed = new AdminLikeFeed();
    const { follower, resets } = following(feed);
    feed.append(100);
    await follower.pull();
    feed.restore(90);
    feed.append(10);
    const [next] = feed.append(1); // seq 101: contiguous with the cursor
    await follower.receive({ seq: 101, changes: [next!] });
    expect(follower.lastSeq).toBe(101);
    await follower.pull(); // the periodic pull still checks the change it followed from (100)
    expect(resets).toEqual([101]);
  });

  it('a pushed change at a seq the follower already passed makes it pull at once, and the pull resets it', async () => {
    const feed = new AdminLikeFeed();
    const { follower, resets } = following(feed);
    feed.append(100);
    await follower.pull();
    feed.restore(90);
    const restored = feed.append(15);
    // Only the revocation's push arrives (seq 95): no periodic pull needed.
    await follower.receive({ seq: 95, changes: [restored[4]!] });
    expect(resets).toEqual([105]);
    expect(follower.lastSeq).toBe(105);
  });

  it('a restored log that rewrote changes the follower had only from pushes resets it', async () => {
    const feed = new AdminLikeFeed();
    const { follower, applied, resets } = following(feed);
    feed.append(100);
    await follower.pull();
    for (const pushed of feed.append(5)) await follower.receive({ seq: pushed.seq, changes: [pushed] });
    expect(follower.lastSeq).toBe(105);
    // The backup holds 101 and 102; 103-106 are new: the change at 100 is the same in both logs.
    feed.restore(102);
    const rewritten = feed.append(4);
    await follower.receive({ seq: 106, changes: [rewritten[3]!] }); // contiguous with 105
    applied.length = 0;
    await follower.pull();
    expect(resets).toEqual([106]);
    expect(applied).toEqual(expect.arrayContaining([103, 104, 105]));
    expect(follower.lastSeq).toBe(106);
  });

  it('a head below a change pushed beyond a gap is a log that went back', async () => {
    const feed = new AdminLikeFeed();
    const { follower, applied, resets } = following(feed);
    feed.append(100);
    await follower.pull();
    const later = feed.append(8); // 101..108
    for (const pushed of later.slice(0, 5)) await follower.receive({ seq: pushed.seq, changes: [pushed] });
    // 108 arrives, 106 and 107 are lost, and the pull the gap asks for fails (the admin plane stops).
    feed.failing = true;
    await follower.receive({ seq: 108, changes: [later[7]!] }).catch(() => undefined);
    feed.failing = false;
    feed.restore(106); // the backup ends at 106: below 108, which this follower holds as applied
    await follower.pull();
    expect(resets).toEqual([106]);
    const [a, b] = feed.append(2); // the new 107 and 108
    applied.length = 0;
    await follower.receive({ seq: 108, changes: [a!, b!] });
    expect(applied).toEqual([107, 108]);
    expect(follower.lastSeq).toBe(108);
  });

  it('pushes lost, repeated and out of order, and pulls in between, over one history never reset', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('append' as const), count: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ op: fc.constant('push' as const), pick: fc.array(fc.nat(), { maxLength: 4 }) }),
            fc.record({ op: fc.constant('pull' as const) }),
          ),
          { maxLength: 40 },
        ),
        async (steps) => {
          const feed = new AdminLikeFeed();
          const { follower, applied, resets } = following(feed);
          for (const step of steps) {
            if (step.op === 'append') feed.append(step.count);
            else if (step.op === 'pull') await follower.pull();
            else if (feed.log.length > 0) {
              const changes = step.pick.map((i) => feed.log[i % feed.log.length]!);
              const seq = Math.max(...changes.map((c) => c.seq), 0);
              if (changes.length > 0) await follower.receive({ seq, changes });
            }
          }
          await follower.pull();
          expect(resets).toEqual([]);
          expect(new Set(applied)).toEqual(new Set(feed.log.map((c) => c.seq)));
          expect(follower.lastSeq).toBe(feed.log.at(-1)?.seq ?? 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a log restored and written past the catalog seq before the first pull resets the follower', async () => {
    const feed = new AdminLikeFeed();
    const applied: number[] = [];
    const resets: number[] = [];
    const follower = new ChangeFollower({
      feed,
      clock: new ManualClock(),
      apply: (c) => void applied.push(c.seq),
      onReset: (seq) => void resets.push(seq),
    });
    feed.append(100);
    follower.start(100, feed.log.at(-1)); // GET /internal/targets: {seq, last}
    feed.restore(90);
    feed.append(15);
    await follower.pull();
    expect(resets).toEqual([105]);
    expect(applied).toEqual([101, 102, 103, 104, 105]);
  });

  it('without the change at the catalog seq (an older admin plane) the first pull takes the feed at its word', async () => {
    const feed = new AdminLikeFeed();
    const resets: number[] = [];
    const follower = new ChangeFollower({
      feed,
      clock: new ManualClock(),
      apply: () => undefined,
      onReset: (seq) => void resets.push(seq),
    });
    feed.append(100);
    follower.start(100);
    await follower.pull();
    feed.restore(90);
    feed.append(15);
    await follower.pull(); // the change at 100 learnt from the first pull
    expect(resets).toEqual([105]);
  });
});
