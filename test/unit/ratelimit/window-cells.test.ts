import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CounterCharge } from '../../../src/ratelimit/counter-store.js';
import { MemoryCounterStore } from '../../../src/ratelimit/memory-counter-store.js';
import { WINDOWS, counterKey, parseCounterKey } from '../../../src/ratelimit/windows.js';
import type { Scope } from '../../../src/policy/limits.js';

const MINUTE_TTL = 61_000;

/** A window counter charge named in parts, as LimitsAdmission's plans name them. */
function charge(
  scopeId: string,
  window: number,
  startMs: number,
  amount: number,
  limit = 1_000_000,
  ttlMs = MINUTE_TTL,
  scope: Scope = 'key',
): CounterCharge {
  return {
    key: counterKey(scope, scopeId, WINDOWS[window]!.name, startMs),
    amount,
    limit,
    ttlMs,
    scope,
    scopeId,
    window,
    startMs,
  };
}

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

describe('MemoryCounterStore window cells', () => {
  it('a window counter charged in parts and one spelt by its key string are the same counter', () => {
    const { store } = setup();
    expect(store.chargeAll([charge('k1', 0, 60_000, 3), charge('k1', 3, 60_000, 40)]).ok).toBe(true);
    const rpm = counterKey('key', 'k1', 'rpm', 60_000);
    const tpm = counterKey('key', 'k1', 'tpm', 60_000);
    expect(store.read([rpm, tpm])).toEqual([3, 40]);
    store.adjust(tpm, -15, MINUTE_TTL);
    expect(store.read([charge('k1', 3, 60_000, 0)])).toEqual([25]);
    store.adjust(counterKey('team', 't1', 'rpd', 0), 2, 86_401_000);
    expect(store.read([charge('t1', 2, 0, 0, 0, 0, 'team')])).toEqual([2]);
    // A key that only looks similar is a counter of its own.
    expect(parseCounterKey('key:k1:rpm:060000')).toBeUndefined();
    expect(parseCounterKey('key:k1:minute:60000')).toBeUndefined();
    expect(parseCounterKey(rpm)).toEqual({ scope: 'key', scopeId: 'k1', window: 0, startMs: 60_000 });
  });

  it('the previous window stays readable after a new one starts, and the one before it while it lives', () => {
    const { store, advance } = setup();
    store.chargeAll([charge('k', 0, 0, 1)]);
    advance(100);
    store.chargeAll([charge('k', 0, 60_000, 2)]);
    advance(100);
    store.chargeAll([charge('k', 0, 120_000, 3)]);
    expect(store.read([charge('k', 0, 0, 0), charge('k', 0, 60_000, 0), charge('k', 0, 120_000, 0)])).toEqual(
      [1, 2, 3],
    );
    // An older window than the cell's (a clock set back) is counted too, apart.
    store.chargeAll([charge('k', 0, 30_000, 5)]);
    expect(store.read([counterKey('key', 'k', 'rpm', 30_000)])).toEqual([5]);
    advance(MINUTE_TTL);
    store.chargeAll([charge('other', 0, 0, 1)]);
    expect(store.read([charge('k', 0, 0, 0), charge('k', 0, 120_000, 0)])).toEqual([0, 0]);
  });

  it('10,000 keys over 10 minute windows keep one cell and one slot each; cells of keys gone quiet are freed', () => {
    const { store, advance } = setup();
    for (let minute = 0; minute < 10; minute++) {
      for (let i = 0; i < 10_000; i++)
        expect(store.chargeAll([charge(`k${i}`, 0, minute * 60_000, 1, 5)]).ok).toBe(true);
      advance(60_000);
    }
    expect(store.slotCount).toBe(10_000);
    expect(store.size).toBeLessThanOrEqual(20_000);
    advance(MINUTE_TTL);
    // Creations sweep a few cells each: 10,000 new keys visit every old one.
    for (let i = 0; i < 10_000; i++) store.chargeAll([charge(`new${i}`, 0, 0, 1)]);
    expect(store.slotCount).toBe(10_000);
    expect(store.read([charge('k1', 0, 9 * 60_000, 0)])).toEqual([0]);
  });

  it('counts exactly like a map of counters by key, each living its ttl from creation (property)', () => {
    type Ref = { id: number; window: number; start: number };
    type Op =
      | { kind: 'charge'; refs: Ref[]; amounts: number[]; limit: number }
      | { kind: 'adjust'; ref: Ref; delta: number; byKey: boolean }
      | { kind: 'advance'; ms: number };
    const ref: fc.Arbitrary<Ref> = fc.record({
      id: fc.integer({ min: 0, max: 2 }),
      window: fc.integer({ min: 0, max: 1 }),
      start: fc.integer({ min: 0, max: 5 }),
    });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        kind: fc.constant('charge' as const),
        refs: fc.uniqueArray(ref, {
          selector: (r) => `${r.id}:${r.window}:${r.start}`,
          minLength: 1,
          maxLength: 4,
        }),
        amounts: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 4, maxLength: 4 }),
        limit: fc.integer({ min: 0, max: 60 }),
      }),
      fc.record({
        kind: fc.constant('adjust' as const),
        ref,
        delta: fc.integer({ min: -30, max: 30 }),
        byKey: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
    );
    // Window 0 lives a minute and a second, window 1 an hour and a second (as the plans say).
    const ttlOf = (window: number): number => (window === 0 ? MINUTE_TTL : 3_601_000);
    const toCharge = (r: Ref, amount: number, limit: number): CounterCharge =>
      charge(`k${r.id}`, r.window, r.start * 60_000, amount, limit, ttlOf(r.window));
    const all: Ref[] = [];
    for (let id = 0; id <= 2; id++)
      for (let window = 0; window <= 1; window++)
        for (let start = 0; start <= 5; start++) all.push({ id, window, start });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { store, advance } = setup();
        let now = 1_000_000;
        const model = new Map<string, { value: number; expiresAt: number }>();
        const valueOf = (key: string): number => {
          const counter = model.get(key);
          return counter !== undefined && now < counter.expiresAt ? counter.value : 0;
        };
        for (const o of ops) {
          if (o.kind === 'advance') {
            advance(o.ms);
            now += o.ms;
            continue;
          }
          // Expired counters kept by key are dropped by the sweep at the start of a write (a zero
          // adjustment writes nothing): the model's on-the-dot expiry is compared after writes.
          if (o.kind === 'adjust' && o.delta === 0) continue;
          if (o.kind === 'charge') {
            const charges = o.refs.map((r, i) => toCharge(r, o.amounts[i]!, o.limit));
            const before = charges.map((c) => valueOf(c.key));
            const fits = charges.every((c, i) => before[i]! + c.amount <= c.limit);
            const result = store.chargeAll(charges);
            expect(result.ok).toBe(fits);
            if (fits) {
              charges.forEach((c, i) => {
                const counter = model.get(c.key);
                if (counter !== undefined && now < counter.expiresAt) counter.value = before[i]! + c.amount;
                else model.set(c.key, { value: c.amount, expiresAt: now + c.ttlMs });
              });
              expect(result.values).toEqual(charges.map((c) => valueOf(c.key)));
            } else expect(result.values).toEqual(before);
          } else {
            const c = toCharge(o.ref, 0, 0);
            if (o.byKey) store.adjust(c.key, o.delta, c.ttlMs);
            else store.adjustAll([c], [o.delta]);
            const counter = model.get(c.key);
            if (counter !== undefined && now < counter.expiresAt)
              counter.value = Math.max(0, counter.value + o.delta);
            else if (o.delta > 0) model.set(c.key, { value: o.delta, expiresAt: now + c.ttlMs });
          }
          // After a write, both spellings read what the model holds.
          const refs = all.map((r) => toCharge(r, 0, 0));
          const expected = refs.map((c) => valueOf(c.key));
          expect(store.read(refs)).toEqual(expected);
          expect(store.read(refs.map((c) => c.key))).toEqual(expected);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('cell memo on the cached scope state (issue 15)', () => {
  it('a holder whose cell was freed and given to another key reads its own counter, not that key’s', () => {
    const { store, advance } = setup();
    const holderA = { id: 'key_a' };
    const holderB = { id: 'key_b' };
    const withHolder = (c: CounterCharge, holder: object): CounterCharge => ({ ...c, holder });
    const start = 960_000;
    expect(store.chargeAll([withHolder(charge('key_a', 0, start, 5), holderA)]).values).toEqual([5]);
    expect(store.chargeAll([withHolder(charge('key_a', 0, start, 1), holderA)]).values).toEqual([6]);
    // Key a's counter expires; charges of other keys sweep its cell and take it over.
    advance(MINUTE_TTL + 1);
    const later = start + 120_000;
    for (let i = 0; i < 16; i++) store.chargeAll([charge(`key_${i}`, 0, later, 1)]);
    store.chargeAll([withHolder(charge('key_b', 0, later, 7), holderB)]);
    // Key a again: a new minute, counted from 0, whatever cell its state remembered.
    expect(store.chargeAll([withHolder(charge('key_a', 0, later, 1), holderA)]).values).toEqual([1]);
    expect(store.chargeAll([withHolder(charge('key_b', 0, later, 1), holderB)]).values).toEqual([8]);
    expect(store.read([charge('key_a', 0, later, 0)])).toEqual([1]);
    // Invisible on the holder.
    expect(Object.keys(holderA)).toEqual(['id']);
    expect(JSON.stringify(holderA)).toBe('{"id":"key_a"}');
  });

  it('frozen holders (interned team and org states) are left alone', () => {
    const { store } = setup();
    const team = Object.freeze({ id: 'team_1' });
    const c = { ...charge('team_1', 0, 960_000, 2, 1_000_000, MINUTE_TTL, 'team'), holder: team };
    expect(store.chargeAll([c]).values).toEqual([2]);
    expect(store.chargeAll([c]).values).toEqual([4]);
    expect(Object.getOwnPropertySymbols(team)).toEqual([]);
  });
});
