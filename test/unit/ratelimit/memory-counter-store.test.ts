import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryCounterStore } from '../../../src/ratelimit/memory-counter-store.js';

function setup() {
  let now = 1_000_000;
  const store = new MemoryCounterStore({ now: () => now });
  return {
    store,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('MemoryCounterStore', () => {
  it('chargeAll applies every charge when all fit and none when one does not', () => {
    const { store } = setup();
    expect(
      store.chargeAll([
        { key: 'a', amount: 3, limit: 5, ttlMs: 60_000 },
        { key: 'b', amount: 10, limit: 10, ttlMs: 60_000 },
      ]),
    ).toEqual({ ok: true, values: [3, 10] });
    // b is full: the whole call is refused and a is left untouched.
    expect(
      store.chargeAll([
        { key: 'a', amount: 1, limit: 5, ttlMs: 60_000 },
        { key: 'b', amount: 1, limit: 10, ttlMs: 60_000 },
        { key: 'c', amount: 1, limit: 10, ttlMs: 60_000 },
      ]),
    ).toEqual({ ok: false, values: [3, 10, 0] });
    expect(store.read(['a', 'b', 'c'])).toEqual([3, 10, 0]);
    expect(store.size).toBe(2);
  });

  it('adjust never takes a counter below zero, and a refund to a missing counter stores nothing', () => {
    const { store } = setup();
    store.chargeAll([{ key: 'a', amount: 4, limit: 10, ttlMs: 60_000 }]);
    store.adjust('a', -10, 60_000);
    expect(store.read(['a'])).toEqual([0]);
    store.adjust('gone', -5, 60_000);
    expect(store.read(['gone'])).toEqual([0]);
    expect(store.size).toBe(1);
    store.adjust('new', 7, 60_000);
    expect(store.read(['new'])).toEqual([7]);
  });

  it('keeps a counter for its whole ttl and sweeps it on a write after that, leaving live ones', () => {
    const { store, advance } = setup();
    store.chargeAll([{ key: 'minute', amount: 2, limit: 10, ttlMs: 61_000 }]);
    store.chargeAll([{ key: 'day', amount: 5, limit: 10, ttlMs: 86_401_000 }]);
    advance(60_999);
    store.chargeAll([{ key: 'other', amount: 1, limit: 10, ttlMs: 61_000 }]);
    expect(store.read(['minute', 'day'])).toEqual([2, 5]);
    advance(1);
    store.adjust('other', 1, 61_000);
    expect(store.read(['minute', 'day', 'other'])).toEqual([0, 5, 2]);
    expect(store.size).toBe(2);
  });

  it('a counter created again after its sweep lives its full new ttl', () => {
    const { store, advance } = setup();
    store.chargeAll([{ key: 'a', amount: 1, limit: 10, ttlMs: 1_000 }]);
    advance(1_500);
    store.chargeAll([{ key: 'a', amount: 2, limit: 10, ttlMs: 1_000 }]); // sweeps the old one, creates anew
    advance(900);
    store.chargeAll([{ key: 'b', amount: 1, limit: 10, ttlMs: 1_000 }]);
    expect(store.read(['a'])).toEqual([2]);
    advance(100);
    store.chargeAll([{ key: 'b', amount: 1, limit: 10, ttlMs: 1_000 }]);
    expect(store.read(['a'])).toEqual([0]);
  });

  it('a burst of expiries is swept a bounded batch per write, then completely', () => {
    const { store, advance } = setup();
    for (let i = 0; i < 1_000; i++) store.adjust(`k${i}`, 1, 1_000);
    advance(1_000);
    store.adjust('live', 1, 60_000);
    expect(store.size).toBeGreaterThan(1);
    expect(store.size).toBeLessThan(1_001);
    for (let i = 0; i < 10; i++) store.adjust('live', 1, 60_000);
    expect(store.size).toBe(1);
    expect(store.read(['live'])).toEqual([11]);
  });

  it('counts exactly and all-or-nothing; a counter lives its ttl from creation, then reads 0 (property)', () => {
    type Op =
      | { kind: 'charge'; keys: number[]; amounts: number[]; limit: number; ttl: number }
      | { kind: 'adjust'; key: number; delta: number; ttl: number }
      | { kind: 'advance'; ms: number };
    const ttl = fc.constantFrom(1_000, 61_000, 3_601_000);
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('charge' as const),
        keys: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
        amounts: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 4, maxLength: 4 }),
        limit: fc.integer({ min: 0, max: 60 }),
        ttl,
      }),
      fc.record({
        kind: fc.constant('adjust' as const),
        key: fc.integer({ min: 0, max: 5 }),
        delta: fc.integer({ min: -30, max: 30 }),
        ttl,
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 70_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { store, advance } = setup();
        let now = 1_000_000;
        // The model: value and expiry (creation + ttl) of each counter. With 6 keys, far below the
        // sweep batch, every write first drops every expired counter, so the model is exact.
        const model = new Map<string, { value: number; expiresAt: number }>();
        const sync = () => {
          for (const [key, counter] of model) expect(store.read([key])).toEqual([counter.value]);
        };
        const expire = () => {
          for (const [key, counter] of model) if (now >= counter.expiresAt) model.delete(key);
        };
        for (const o of ops) {
          if (o.kind === 'advance') {
            advance(o.ms);
            now += o.ms;
            continue;
          }
          sync();
          expire();
          if (o.kind === 'charge') {
            const charges = o.keys.map((k, i) => ({
              key: `k${k}`,
              amount: o.amounts[i]!,
              limit: o.limit,
              ttlMs: o.ttl,
            }));
            const before = charges.map((c) => model.get(c.key)?.value ?? 0);
            const fits = charges.every((c, i) => before[i]! + c.amount <= c.limit);
            const result = store.chargeAll(charges);
            expect(result.ok).toBe(fits);
            if (fits) {
              charges.forEach((c, i) => {
                const counter = model.get(c.key) ?? { value: 0, expiresAt: now + c.ttlMs };
                counter.value = before[i]! + c.amount;
                model.set(c.key, counter);
              });
              expect(result.values).toEqual(charges.map((c) => model.get(c.key)!.value));
            } else {
              expect(result.values).toEqual(before);
            }
          } else {
            const key = `k${o.key}`;
            store.adjust(key, o.delta, o.ttl);
            const counter = model.get(key);
            if (counter !== undefined) counter.value = Math.max(0, counter.value + o.delta);
            else if (o.delta > 0) model.set(key, { value: o.delta, expiresAt: now + o.ttl });
          }
          sync();
        }
        // Everything expired is gone after enough writes far in the future.
        advance(10_000_000);
        for (let i = 0; i < 10; i++) store.adjust('probe', 1, 1_000);
        expect(store.size).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it('adjustAll is the adjusts of its non-zero deltas one by one at one instant, expiries included (property)', () => {
    type Op =
      | { kind: 'charge'; key: number; amount: number; ttl: number }
      | { kind: 'adjustAll'; entries: { key: number; delta: number; ttl: number }[] }
      | { kind: 'advance'; ms: number };
    const ttl = fc.constantFrom(1_000, 61_000, 3_601_000);
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('charge' as const),
        key: fc.integer({ min: 0, max: 5 }),
        amount: fc.integer({ min: 0, max: 20 }),
        ttl,
      }),
      fc.record({
        kind: fc.constant('adjustAll' as const),
        entries: fc.uniqueArray(
          fc.record({ key: fc.integer({ min: 0, max: 5 }), delta: fc.integer({ min: -30, max: 30 }), ttl }),
          { selector: (entry) => entry.key, maxLength: 6 },
        ),
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 70_000 }) }),
    );
    const keys = Array.from({ length: 6 }, (_, i) => `k${i}`);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const batched = setup();
        const single = setup();
        for (const o of ops) {
          if (o.kind === 'advance') {
            batched.advance(o.ms);
            single.advance(o.ms);
          } else if (o.kind === 'charge') {
            const charge = { key: `k${o.key}`, amount: o.amount, limit: 1_000, ttlMs: o.ttl };
            batched.store.chargeAll([charge]);
            single.store.chargeAll([charge]);
          } else {
            const charges = o.entries.map((e) => ({ key: `k${e.key}`, amount: 0, limit: 0, ttlMs: e.ttl }));
            batched.store.adjustAll(
              charges,
              o.entries.map((e) => e.delta),
            );
            for (const e of o.entries) if (e.delta !== 0) single.store.adjust(`k${e.key}`, e.delta, e.ttl);
          }
          expect(batched.store.read(keys)).toEqual(single.store.read(keys));
          expect(batched.store.size).toBe(single.store.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('10,000 keys over 10 minute windows reuse the slots of expired windows: storage stays flat', () => {
    const { store, advance } = setup();
    const keys = (minute: number): string[] =>
      Array.from({ length: 10_000 }, (_, i) => `key:k${i}:rpm:${minute}`);
    for (let minute = 0; minute < 10; minute++) {
      for (const key of keys(minute)) {
        expect(store.chargeAll([{ key, amount: 1, limit: 5, ttlMs: 61_000 }]).ok).toBe(true);
      }
      advance(60_000);
    }
    // Two windows' worth at most (the current one and the one not yet expired), never ten.
    expect(store.slotCount).toBeLessThanOrEqual(20_000);
    expect(store.size).toBeLessThanOrEqual(20_000);
    expect(store.read([keys(9)[0]!, keys(0)[0]!])).toEqual([1, 0]);
  });
});
