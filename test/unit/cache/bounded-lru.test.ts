/** BoundedLru (CLOCK): bounded, recently read entries survive, freed slots are reused. */
import { describe, expect, it } from 'vitest';
import { BoundedLru } from '../../../src/cache/bounded-lru.js';

describe('BoundedLru', () => {
  it('never holds more than max entries; an entry read since the hand passed outlives an unread one', () => {
    const lru = new BoundedLru<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    lru.get('a'); // a read: it survives the next eviction, b (never read) does not
    lru.set('d', 4);
    expect(lru.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((k) => lru.peek(k))).toEqual([1, undefined, 3, 4]);
  });

  it('a hot entry read between insertions survives a stream of 10,000 one-off entries', () => {
    const lru = new BoundedLru<number, number>(100);
    lru.set(-1, -1);
    for (let i = 0; i < 10_000; i++) {
      lru.set(i, i);
      expect(lru.get(-1)).toBe(-1);
    }
    expect(lru.size).toBe(100);
  });

  it('set on an existing key replaces the value; delete and deleteWhere free slots for reuse', () => {
    const lru = new BoundedLru<string, number>(4);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) lru.set(k, i);
    lru.set('a', 10);
    expect(lru.get('a')).toBe(10);
    expect(lru.delete('b')).toBe(true);
    expect(lru.delete('b')).toBe(false);
    expect(lru.deleteWhere((value) => value >= 2 && value < 5)).toBe(2);
    expect(lru.size).toBe(1);
    lru.set('x', 1);
    lru.set('y', 2);
    lru.set('z', 3);
    expect(lru.size).toBe(4);
    expect(lru.get('a')).toBe(10); // nothing had to be evicted: the freed slots were reused
    lru.clear();
    expect(lru.size).toBe(0);
    expect(lru.get('a')).toBeUndefined();
  });
});
