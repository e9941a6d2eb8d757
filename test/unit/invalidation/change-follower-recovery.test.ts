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
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { ChangeFollower, type ChangeFeed } from '../../../src/invalidation/change-follower.js';
import type { Change, ChangeBatch } from '../../../src/invalidation/change.js';

function change(seq: number): Change {
  return { seq, at: 0, entityType: 'key', entityId: `key_${seq}`, tokenHashes: [`hash_${seq}`] };
}

/** Served like the admin plane's GET /internal/changes: `seq` is the last change read, else the head. */
class AdminLikeFeed implements ChangeFeed {
  log: Change[] = [];
  async changesAfter(after: number, limit: number): Promise<ChangeBatch> {
    const changes = this.log.filter((c) => c.seq > after).slice(0, limit);
    const head = this.log.at(-1)?.seq ?? 0;
    return { seq: changes.at(-1)?.seq ?? head, changes };
  }
  append(count: number): Change[] {
    const added: Change[] = [];
    for (let i = 0; i < count; i++) {
      const next = change((this.log.at(-1)?.seq ?? 0) + 1);
      this.log.push(next);
      added.push(next);
    }
    return added;
  }
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
});
