/**
 * RefusedBatches (gateway/usage/refused-batches.ts) on a real directory: what two replays racing
 * over the same area, or a hand-edited area, leave it to meet.
 */
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RefusedBatches } from '../../../gateway/usage/refused-batches.js';

const report = { gatewayId: 'gw', batchId: 'batch_1', batchSeq: 1, items: [] };

describe('RefusedBatches', () => {
  it('removing a batch another replay removed first is no error (the batch is applied either way)', () => {
    const area = new RefusedBatches(join(mkdtempSync(join(tmpdir(), 'keygate-refused-')), 'refused'));
    const path = area.keep(report, { status: 422, body: '{}' }, 1);
    area.remove(path);
    expect(() => area.remove(path)).not.toThrow();
    expect(area.list()).toEqual([]);
  });

  it('reading JSON that is not a set-aside batch throws (the replay reports the file and keeps it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-refused-'));
    const area = new RefusedBatches(dir);
    for (const [name, text] of [
      ['usage-a.json', '{}'],
      ['usage-b.json', 'null'],
      ['usage-c.json', '{"report":{"gateway_id":"g","batch_id":"b","batch_seq":1,"items":{}}}'],
    ] as const) {
      writeFileSync(join(dir, name), text);
      expect(() => area.read(join(dir, name))).toThrow(/not a set-aside usage batch/);
    }
    const kept = area.keep(report, { status: 422, body: '{}' }, 1);
    expect(area.read(kept).report.batch_id).toBe('batch_1');
  });

  it('reads neither through a symlink nor a directory, and a parse error does not quote the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-refused-'));
    const area = new RefusedBatches(dir);
    const secret = join(dir, 'outside.txt');
    writeFileSync(secret, 'SECRET-CONTENT that is not JSON');
    symlinkSync(secret, join(dir, 'usage-link.json'));
    expect(() => area.read(join(dir, 'usage-link.json'))).toThrow(/not a regular file/);
    mkdirSync(join(dir, 'usage-dir.json'));
    expect(() => area.read(join(dir, 'usage-dir.json'))).toThrow(/not a regular file/);
    writeFileSync(join(dir, 'usage-text.json'), 'SECRET-CONTENT that is not JSON');
    let message = '';
    try {
      area.read(join(dir, 'usage-text.json'));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('not JSON');
  });

  it('a write that fails part-way (the final name is a directory) throws and leaves no temporary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-refused-'));
    const area = new RefusedBatches(dir);
    // Written, fsync'ed, then the rename fails: EISDIR (a real failing write, no mock).
    mkdirSync(join(dir, 'usage-batch_1.json'));
    expect(() => area.keep(report, { status: 422, body: '{}' }, 1)).toThrow();
    expect(readdirSync(dir)).toEqual(['usage-batch_1.json']);
  });

  it('never lists temporaries; removes the stale ones, not one young enough to be a write in flight', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-refused-'));
    const area = new RefusedBatches(dir);
    const kept = area.keep(report, { status: 422, body: '{}' }, 1);
    const stale = join(dir, 'usage-batch_2.json.tmp');
    const young = join(dir, 'usage-batch_3.json.tmp');
    const other = join(dir, 'notes.tmp');
    for (const path of [stale, young, other]) writeFileSync(path, '{"half":');
    const now = Date.now();
    utimesSync(stale, new Date(now - 120_000), new Date(now - 120_000));
    utimesSync(other, new Date(now - 120_000), new Date(now - 120_000));
    expect(area.list()).toEqual([kept]);

    expect(area.removeStaleTemporaries(now, 60_000)).toEqual([stale]);
    expect(readdirSync(dir).sort()).toEqual(['notes.tmp', 'usage-batch_1.json', 'usage-batch_3.json.tmp']);
    expect(new RefusedBatches(join(dir, 'absent')).removeStaleTemporaries(now)).toEqual([]);
  });
});
