/**
 * The change follower when applying a change fails.
 *
 * - A change whose application throws (a target change whose catalog reload met a busy or
 *   restarting admin plane) was claimed before it was applied and never released: every later
 *   pull skipped it and moved past it, so the gateway kept routing and pricing with the old
 *   catalog until some other target change came along.
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
});
