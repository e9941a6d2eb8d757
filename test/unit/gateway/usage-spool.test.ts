import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { UsageReport } from '../../../src/usage/usage-report.js';
import { UsageReporter, type UsageSink } from '../../../gateway/usage/usage-reporter.js';
import { UsageSpool } from '../../../gateway/usage/usage-spool.js';

/** Applies each batch id once, like the admin plane (POST /internal/usage). */
class IdempotentSink implements UsageSink {
  readonly applied = new Map<string, UsageReport>();
  down = false;
  async postUsage(report: UsageReport): Promise<{ applied: boolean }> {
    if (this.down) throw new Error('admin down');
    const fresh = !this.applied.has(report.batchId);
    if (fresh) this.applied.set(report.batchId, structuredClone(report));
    return { applied: fresh };
  }
  requests(): number {
    let total = 0;
    for (const report of this.applied.values()) for (const item of report.items) total += item.requests;
    return total;
  }
  spend(): number {
    let total = 0;
    for (const report of this.applied.values()) for (const item of report.items) total += item.spendMicros;
    return total;
  }
}

const dirs: string[] = [];
const spoolDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-spool-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const dead = { isOwnerAlive: () => false };
const mine = { isOwnerAlive: () => true };

describe('UsageSpool', () => {
  it('usage replayed from the spool keeps its request tags, aggregated per tag set', async () => {
    const dir = spoolDir();
    const sink = new IdempotentSink();
    sink.down = true;
    const { spool } = UsageSpool.open({ dir, ...mine });
    const reporter = new UsageReporter({ sink, gatewayId: 'gw_a', journal: spool });
    reporter.record('key_1', 'm', 10, 5, 3, 1000, ['a', 'b']);
    reporter.record('key_1', 'm', 10, 5, 3, 1001, ['a', 'b']);
    reporter.record('key_1', 'm', 10, 5, 3, 1002);
    await reporter.flush();
    await reporter.stop();
    spool.close();

    sink.down = false;
    const next = UsageSpool.open({ dir, ...dead });
    const items = next.recovered.flatMap((report) => report.items);
    const byTags = (tags: string[] | undefined) => items.find((item) => String(item.tags) === String(tags));
    expect(byTags(['a', 'b'])?.requests).toBe(2);
    expect(byTags(undefined)?.requests).toBe(1);
    next.spool.close();
  });

  it('a stop with the admin plane down keeps 100 of 100 requests; the next start sends them once', async () => {
    const dir = spoolDir();
    const sink = new IdempotentSink();
    sink.down = true;
    const { spool } = UsageSpool.open({ dir, ...mine });
    const reporter = new UsageReporter({ sink, gatewayId: 'gw_a', journal: spool });
    for (let i = 0; i < 100; i++) reporter.record(`key_${i % 7}`, 'm', 10, 5, 3, 1000 + i);
    await reporter.flush(); // sealed, send failed
    const summary = await reporter.stop();
    expect(summary.unsentRequests).toBe(100);
    expect(spool.close()).toBe(1);

    sink.down = false;
    const next = UsageSpool.open({ dir, ...dead });
    expect(next.recovered.map((r) => r.gatewayId)).toEqual(['gw_a']);
    const restarted = new UsageReporter({ sink, gatewayId: 'gw_b', journal: next.spool });
    restarted.enqueue(next.recovered);
    await restarted.flush();
    expect(sink.requests(), 'requests recorded after the restart').toBe(100);
    expect(sink.spend()).toBe(300);
    next.spool.close();
    expect(readdirSync(dir), 'nothing left to send: spool files deleted').toEqual([]);
  });

  it('kill -9 after a batch was applied but before its ack: replay sends the same batch id, counted once', async () => {
    const dir = spoolDir();
    const sink = new IdempotentSink();
    const { spool } = UsageSpool.open({ dir, ...mine });
    const reporter = new UsageReporter({ sink, gatewayId: 'gw_a', journal: spool });
    for (let i = 0; i < 50; i++) reporter.record('key_1', 'm', 1, 1, 2, i);
    // The admin applies the batch; the process dies before the ack line is written.
    const original = sink.postUsage.bind(sink);
    sink.postUsage = async (report) => {
      await original(report);
      throw new Error('killed before the answer');
    };
    await reporter.flush();
    for (let i = 0; i < 30; i++) reporter.record('key_1', 'm', 1, 1, 2, 100 + i);
    spool.writeNow(); // what the 100 ms timer does; then kill -9 (no close)

    sink.postUsage = original;
    const next = UsageSpool.open({ dir, ...dead });
    const restarted = new UsageReporter({ sink, gatewayId: 'gw_b', journal: next.spool });
    restarted.enqueue(next.recovered);
    await restarted.flush();
    expect(sink.requests(), 'served 80, recorded once each').toBe(80);
    next.spool.close();
  });

  it('usage reaches the file at most ~100 ms after it was recorded (the kill -9 loss bound)', async () => {
    const dir = spoolDir();
    const { spool } = UsageSpool.open({ dir, writeEveryMs: 100, ...mine });
    const reporter = new UsageReporter({ sink: new IdempotentSink(), gatewayId: 'gw_a', journal: spool });
    reporter.record('key_1', 'm', 1, 1, 2, 1);
    const started = Date.now();
    while (!readFileSync(spool.path, 'utf8').includes('"add"')) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(Date.now() - started, 'ms until the usage was on disk').toBeLessThan(250);
    spool.close();
  });

  it('a torn last line is skipped; acknowledged batches are not replayed', () => {
    const dir = spoolDir();
    const { spool } = UsageSpool.open({ dir, ...mine });
    spool.begin({ gatewayId: 'gw', batchId: 'b1', batchSeq: 1 });
    spool.record('b1', 'k', 'm', {
      requests: 2,
      inputTokens: 1,
      outputTokens: 1,
      spendMicros: 5,
      lastUsedAt: 1,
    });
    spool.sealed();
    spool.acked('b1');
    spool.begin({ gatewayId: 'gw', batchId: 'b2', batchSeq: 2 });
    spool.record('b2', 'k', 'm', {
      requests: 3,
      inputTokens: 1,
      outputTokens: 1,
      spendMicros: 7,
      lastUsedAt: 2,
    });
    spool.writeNow();
    appendFileSync(spool.path, '{"add":"b2","items":[["k","m",1');
    const { recovered } = UsageSpool.open({ dir, ...dead });
    expect(recovered).toEqual([
      {
        gatewayId: 'gw',
        batchId: 'b2',
        batchSeq: 2,
        items: [
          {
            keyId: 'k',
            target: 'm',
            requests: 3,
            inputTokens: 1,
            outputTokens: 1,
            spendMicros: 7,
            lastUsedAt: 2,
          },
        ],
      },
    ]);
  });

  it('lines and rows a damaged disk or a hand edit left are skipped and counted; the start does not throw, the good usage is replayed', () => {
    const good =
      '{"open":{"gatewayId":"gw","batchId":"b","batchSeq":1}}\n{"add":"b","items":[["k","m",1,1,1,5,1]]}\n';
    const damaged = [
      'null',
      '5',
      '[]',
      '\u0000\u0000\u0000',
      '{"open":null}',
      '{"open":{"gatewayId":"gw","batchId":5,"batchSeq":1}}',
      '{"add":"b","items":5}',
      '{"add":"b","items":[null, ["k"], ["k","m",1,1,1,"5",1], ["k","m",1,1,1,5,1,[7]], ["k","m",2,0,0,3,9]]}',
    ];
    const dir = spoolDir();
    writeFileSync(join(dir, 'usage-999999-1-0.spool'), good + damaged.join('\n') + '\n');
    const { spool, recovered, skipped } = UsageSpool.open({ dir, ...dead });
    spool.close();
    expect(skipped).toBe(7 + 4);
    expect(recovered).toEqual([
      {
        gatewayId: 'gw',
        batchId: 'b',
        batchSeq: 1,
        items: [
          {
            keyId: 'k',
            target: 'm',
            requests: 3,
            inputTokens: 1,
            outputTokens: 1,
            spendMicros: 8,
            lastUsedAt: 9,
          },
        ],
      },
    ]);
  });

  it('spool files are readable by the owner only (0600, like the database), in a 0700 directory it creates', () => {
    const dir = join(spoolDir(), 'spool');
    const { spool } = UsageSpool.open({ dir, ...mine });
    spool.begin({ gatewayId: 'gw', batchId: 'b1', batchSeq: 1 });
    spool.writeNow();
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThan(0);
    for (const name of files) expect(statSync(join(dir, name)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    spool.close();
  });

  it("a running gateway's segment is never taken over", () => {
    const dir = spoolDir();
    const { spool } = UsageSpool.open({ dir, ...mine });
    spool.begin({ gatewayId: 'gw', batchId: 'b1', batchSeq: 1 });
    spool.record('b1', 'k', 'm', {
      requests: 1,
      inputTokens: 1,
      outputTokens: 1,
      spendMicros: 1,
      lastUsedAt: 1,
    });
    spool.writeNow();
    const other = UsageSpool.open({ dir }); // default check: this pid is alive
    expect(other.recovered).toEqual([]);
    other.spool.close();
    spool.close();
  });

  it("a predecessor's segment under this process's own pid is replayed (a restarted container gets the same pid)", () => {
    const dir = spoolDir();
    // What a gateway killed with kill -9 left, written by an earlier process that had this pid.
    const header = { gatewayId: 'gw_old', batchId: 'b_old', batchSeq: 4 };
    appendFileSync(
      join(dir, `usage-${process.pid}-1000-0000.spool`),
      `${JSON.stringify({ open: header })}\n${JSON.stringify({ add: 'b_old', items: [['k', 'm', 2, 10, 5, 30, 1500]] })}\n`,
    );
    const { spool, recovered } = UsageSpool.open({ dir }); // default owner check
    expect(recovered).toEqual([
      {
        ...header,
        items: [
          {
            keyId: 'k',
            target: 'm',
            requests: 2,
            inputTokens: 10,
            outputTokens: 5,
            spendMicros: 30,
            lastUsedAt: 1500,
          },
        ],
      },
    ]);
    spool.close();
  });
});
