/**
 * HttpInvalidationBus against a real node:http "gateway" on 127.0.0.1: what a gateway receives,
 * in which order, over how many connections.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpInvalidationBus } from '../../../admin/push/change-pusher.js';
import type { Change, ChangeBatch } from '../../../src/invalidation/change.js';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';
import { openDatabase, type Database } from '../../../src/storage/database.js';
import { appendChange as recordChange } from '../../../src/storage/change-log.js';

const SECRET = 'push-test-secret-0123456789abcdef';
const logger = pino({ level: 'silent' });

interface FakeGateway {
  url: string;
  batches: ChangeBatch[];
  connections: number;
  authorized: boolean[];
  /** While set, answers wait for it (a slow gateway). */
  hold: Promise<void> | undefined;
  received: (count: number) => Promise<void>;
  close(): Promise<void>;
}

async function startGateway(status = 204): Promise<FakeGateway> {
  const tokens = new InternalTokens(SECRET);
  const waiters: { count: number; resolve: () => void }[] = [];
  const gateway: FakeGateway = {
    url: '',
    batches: [],
    connections: 0,
    authorized: [],
    hold: undefined,
    received: (count) =>
      gateway.batches.length >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const read = async (request: IncomingMessage): Promise<string> => {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    return body;
  };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await read(request);
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/internal/invalidate');
      gateway.authorized.push(await tokens.verify(request.headers.authorization));
      gateway.batches.push(JSON.parse(body) as ChangeBatch);
      for (const waiter of waiters.filter((w) => gateway.batches.length >= w.count)) waiter.resolve();
      await gateway.hold;
      response.writeHead(status).end();
    })();
  });
  server.on('connection', () => gateway.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return gateway;
}

/** Commits one change-log row and publishes it, as admin/mutation.ts does after a commit. */
function commit(db: Database, bus: HttpInvalidationBus | undefined, entityId: string): number {
  const change: Omit<Change, 'seq'> = {
    entityType: 'key',
    entityId,
    tokenHashes: [`hash_${entityId}`],
    at: Date.now(),
  };
  const seq = recordChange(db, change);
  bus?.publish({ seq, changes: [{ seq, ...change }] });
  return seq;
}

describe('HttpChangePusher', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function setup(gateways: FakeGateway[]) {
    const db = openDatabase(':memory:');
    const pusher = new HttpInvalidationBus(
      gateways.map((g) => g.url),
      new InternalTokens(SECRET),
      logger,
      { timeoutMs: 1000 },
    );
    cleanup.push(() => void db.close());
    cleanup.push(() => pusher.close());
    return { db, pusher };
  }

  it('every committed change reaches every gateway, signed, in seq order, over one kept-alive connection', async () => {
    const gateways = [await startGateway(), await startGateway()];
    for (const g of gateways) cleanup.push(() => g.close());
    const { db, pusher } = await setup(gateways);
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      seqs.push(commit(db, pusher, `key_${i}`));
      for (const g of gateways) await g.received(i + 1);
    }
    for (const g of gateways) {
      expect(g.batches.flatMap((b) => b.changes.map((c) => c.seq))).toEqual(seqs);
      expect(g.batches.map((b) => b.seq)).toEqual(seqs);
      expect(g.batches[0]!.changes[0]).toMatchObject({ entityType: 'key', tokenHashes: ['hash_key_0'] });
      expect(g.authorized.every(Boolean)).toBe(true);
      expect(g.connections).toBe(1);
    }
  });

  it('changes committed while a push is in flight go out together in the next push, right after it', async () => {
    const gateway = await startGateway();
    cleanup.push(() => gateway.close());
    const { db, pusher } = await setup([gateway]);
    let release: () => void = () => {};
    gateway.hold = new Promise((resolve) => (release = resolve));
    commit(db, pusher, 'key_first');
    await gateway.received(1);
    const later: number[] = [];
    for (const id of ['key_a', 'key_b', 'key_c']) {
      later.push(commit(db, pusher, id)); // three admin requests, each in its own task
      await new Promise((resolve) => setImmediate(resolve));
    }
    gateway.hold = undefined;
    release();
    await gateway.received(2);
    expect(gateway.batches[1]).toEqual({
      seq: later[2],
      changes: later.map((seq) => expect.objectContaining({ seq })),
    });
    await pusher.close();
    expect(gateway.batches).toHaveLength(2);
  });

  it('several commits in one task make a single push', async () => {
    const gateway = await startGateway();
    cleanup.push(() => gateway.close());
    const { db, pusher } = await setup([gateway]);
    commit(db, pusher, 'key_a');
    commit(db, pusher, 'key_b');
    await gateway.received(1);
    await pusher.close();
    expect(gateway.batches).toHaveLength(1);
    expect(gateway.batches[0]!.changes.map((c) => c.entityId)).toEqual(['key_a', 'key_b']);
  });

  it('an unreachable or refusing gateway never blocks the others, and publish never throws', async () => {
    const refusing = await startGateway(500);
    const healthy = await startGateway();
    cleanup.push(() => refusing.close());
    cleanup.push(() => healthy.close());
    const dead = await startGateway();
    await dead.close(); // its port now refuses connections
    const db = openDatabase(':memory:');
    cleanup.push(() => void db.close());
    const pusher = new HttpInvalidationBus(
      [dead.url, refusing.url, healthy.url],
      new InternalTokens(SECRET),
      logger,
      { timeoutMs: 500 },
    );
    expect(() => commit(db, pusher, 'key_a')).not.toThrow();
    await Promise.all([healthy.received(1), refusing.received(1)]);
    commit(db, pusher, 'key_b');
    await healthy.received(2);
    await pusher.close();
    expect(healthy.batches.map((b) => b.changes[0]!.entityId)).toEqual(['key_a', 'key_b']);
  });

  it('changes written before the pusher started are not pushed (gateways read them from the catalog seq)', async () => {
    const gateway = await startGateway();
    cleanup.push(() => gateway.close());
    const db = openDatabase(':memory:');
    cleanup.push(() => void db.close());
    commit(db, undefined, 'key_old');
    const pusher = new HttpInvalidationBus([gateway.url], new InternalTokens(SECRET), logger);
    cleanup.push(() => pusher.close());
    const seq = commit(db, pusher, 'key_new');
    await gateway.received(1);
    expect(gateway.batches[0]!.changes.map((c) => c.seq)).toEqual([seq]);
  });
});
