import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { changeEffect } from '../../../src/invalidation/change-effect.js';
import { ChangeFollower, type ChangeFeed } from '../../../src/invalidation/change-follower.js';
import type { Change, ChangeBatch } from '../../../src/invalidation/change.js';

function change(seq: number, entityId = `key_${seq}`): Change {
  return { seq, at: 0, entityType: 'key', entityId, tokenHashes: [`hash_${seq}`] };
}

/** A change log in memory, served like GET /internal/changes?after=&limit=. */
class FakeFeed implements ChangeFeed {
  readonly log: Change[] = [];
  pulls: { after: number; limit: number }[] = [];
  failing = false;
  async changesAfter(after: number, limit: number): Promise<ChangeBatch> {
    this.pulls.push({ after, limit });
    if (this.failing) throw new Error('down');
    const changes = this.log.filter((c) => c.seq > after).slice(0, limit);
    const head = this.log.at(-1)?.seq ?? 0;
    return { seq: changes.at(-1)?.seq ?? Math.max(head, after), changes };
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

function setup(pageSize?: number) {
  const feed = new FakeFeed();
  const applied: number[] = [];
  const follower = new ChangeFollower({
    feed,
    clock: new ManualClock(),
    pageSize,
    apply: (c) => void applied.push(c.seq),
  });
  return { feed, applied, follower };
}

describe('ChangeFollower', () => {
  it('contiguous pushes are applied in seq order without pulling the feed', async () => {
    const { feed, applied, follower } = setup();
    follower.start(0);
    const [a, b, c] = feed.append(3);
    await follower.receive({ seq: 1, changes: [a!] });
    await follower.receive({ seq: 3, changes: [c!, b!] });
    expect(applied).toEqual([1, 2, 3]);
    expect(follower.lastSeq).toBe(3);
    expect(feed.pulls).toHaveLength(0);
  });

  it('a gap in seq pulls the missing range, and every change is applied exactly once', async () => {
    const { feed, applied, follower } = setup();
    follower.start(0);
    const changes = feed.append(5);
    await follower.receive({ seq: 1, changes: [changes[0]!] });
    await follower.receive({ seq: 5, changes: [changes[4]!] }); // 2..4 were lost
    // After the last change a pull read (none yet): the pushed 1 is read again and checked against
    // the log (a restored log may hold another change there), not applied again.
    expect(feed.pulls).toEqual([{ after: 0, limit: 1000 }]);
    // The pushed change 5 is applied at once (evictions are safe early), 2..4 by the pull, none twice.
    expect(applied).toEqual([1, 5, 2, 3, 4]);
    expect(follower.lastSeq).toBe(5);
  });

  it('a push and a pull racing over the same change apply it once', async () => {
    const feed = new FakeFeed();
    const applied: number[] = [];
    let release: () => void = () => {};
    const follower = new ChangeFollower({
      feed,
      clock: new ManualClock(),
      apply: async (c) => {
        applied.push(c.seq);
        if (c.seq === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    follower.start(0);
    const [first, second] = feed.append(2);
    const pushed = follower.receive({ seq: 2, changes: [first!, second!] }); // applying 1, held
    const pulled = follower.pull();
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    await Promise.all([pushed, pulled]);
    expect(applied.sort()).toEqual([1, 2]);
    expect(follower.lastSeq).toBe(2);
  });

  it('a periodic pull repairs pushes that never arrived', async () => {
    const { feed, applied, follower } = setup();
    follower.start(0);
    feed.append(3);
    await follower.pull();
    expect(applied).toEqual([1, 2, 3]);
    expect(follower.lastSeq).toBe(3);
    await follower.pull();
    expect(applied).toEqual([1, 2, 3]);
  });

  it('starts after the catalog seq: older changes are never replayed', async () => {
    const { feed, applied, follower } = setup();
    feed.append(4);
    follower.start(4);
    feed.append(1);
    await follower.pull();
    expect(applied).toEqual([5]);
  });

  it('pulls page by page until the feed is exhausted', async () => {
    const { feed, applied, follower } = setup(2);
    follower.start(0);
    feed.append(5);
    await follower.pull();
    expect(applied).toEqual([1, 2, 3, 4, 5]);
    expect(feed.pulls.map((p) => p.after)).toEqual([0, 2, 4]);
  });

  it('a failed pull leaves lastSeq where it was and the next pull catches up', async () => {
    const { feed, applied, follower } = setup();
    follower.start(0);
    feed.append(2);
    feed.failing = true;
    await expect(follower.pull()).rejects.toThrow('down');
    expect(follower.lastSeq).toBe(0);
    feed.failing = false;
    await follower.pull();
    expect(applied).toEqual([1, 2]);
  });

  it('holes in the log (feed head beyond the last change) close lastSeq', async () => {
    const { feed, follower } = setup();
    follower.start(0);
    feed.log.push(change(1), change(3));
    await follower.receive({ seq: 3, changes: [change(3)] });
    expect(follower.lastSeq).toBe(3);
  });
});

describe('changeEffect', () => {
  it('maps each entity type to what a gateway evicts (docs/api.md "Internal API")', () => {
    expect(
      changeEffect({ seq: 1, at: 0, entityType: 'key', entityId: 'key_1', tokenHashes: ['h1', 'h2'] }),
    ).toEqual({
      kind: 'evict',
      invalidation: { tokenHashes: ['h1', 'h2'], seq: 1 },
    });
    // Without hashes (never sent by the admin today) the key id still selects its entries.
    expect(changeEffect({ seq: 2, at: 0, entityType: 'key', entityId: 'key_1', tokenHashes: [] })).toEqual({
      kind: 'evict',
      invalidation: { tokenHashes: [], keyId: 'key_1', seq: 2 },
    });
    expect(changeEffect({ seq: 1, at: 0, entityType: 'team', entityId: 't', tokenHashes: [] })).toMatchObject(
      {
        kind: 'evict',
        invalidation: { teamId: 't' },
      },
    );
    expect(changeEffect({ seq: 1, at: 0, entityType: 'org', entityId: 'o', tokenHashes: [] })).toMatchObject({
      kind: 'evict',
      invalidation: { orgId: 'o' },
    });
    expect(changeEffect({ seq: 1, at: 0, entityType: 'target', entityId: 'x', tokenHashes: [] }).kind).toBe(
      'reload_targets',
    );
    expect(
      changeEffect({ seq: 1, at: 0, entityType: 'access_group', entityId: 'x', tokenHashes: [] }).kind,
    ).toBe('reload_targets');
    expect(changeEffect({ seq: 1, at: 0, entityType: 'user', entityId: 'u', tokenHashes: [] }).kind).toBe(
      'none',
    );
  });
});
