/**
 * ReservationLeases.holdUnder without Redis: what an attempt's answer means for its caller.
 */
import { describe, expect, it } from 'vitest';
import { ReservationLeases, type LeaseRedis } from '../../../src/budget/reservation-leases.js';
import { CounterStoreError } from '../../../src/ratelimit/counter-store.js';

const redis: LeaseRedis = { set: () => Promise.resolve('OK'), del: () => Promise.resolve(1) };

describe('ReservationLeases.holdUnder', () => {
  it('an attempt lost under the new lease too is a store failure, never a refusal without a scope', async () => {
    const leases = new ReservationLeases({ redis, prefix: 'p:' });
    const names: string[] = [];
    const run = leases.holdUnder(
      'org',
      (lease) => {
        names.push(lease.name);
        return Promise.resolve(-1);
      },
      (answer) => (answer === -1 ? 'lost' : answer === 0 ? 'held' : 'none'),
    );
    await expect(run).rejects.toBeInstanceOf(CounterStoreError);
    expect(new Set(names).size).toBe(2);
    await leases.close();
  });

  it('only the first attempt under a lease is fresh, answered or not', () => {
    const leases = new ReservationLeases({ redis, prefix: 'p:' });
    const first = leases.take('org');
    const second = leases.take('org');
    expect(second).toBe(first);
    expect([leases.fresh(first), leases.fresh(second)]).toEqual([1, 0]);
  });
});
