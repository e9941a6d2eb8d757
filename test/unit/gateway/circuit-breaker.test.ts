import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { BreakerOpenError, CircuitBreaker } from '../../../gateway/circuit-breaker.js';

const fail = () => Promise.reject(new Error('timeout'));
const succeed = () => Promise.resolve('ok');

describe('CircuitBreaker', () => {
  it('opens after 3 failures in a row: the 4th call fails at once without calling', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 3, openMs: 2000 });
    for (let i = 0; i < 3; i++) await expect(breaker.run(fail)).rejects.toThrow('timeout');
    expect(breaker.state).toBe('open');
    let called = false;
    await expect(
      breaker.run(() => {
        called = true;
        return succeed();
      }),
    ).rejects.toBeInstanceOf(BreakerOpenError);
    expect(called).toBe(false);
    expect(breaker.rejected).toBe(1);
  });

  it('lets one trial through after openMs; success closes it, failure reopens it', async () => {
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1, openMs: 1000 });
    await expect(breaker.run(fail)).rejects.toThrow();
    clock.advance(1000);
    expect(breaker.state).toBe('half_open');
    await expect(breaker.run(fail)).rejects.toThrow('timeout');
    expect(breaker.state).toBe('open');
    clock.advance(1000);
    let release: (value: string) => void = () => {};
    const trial = breaker.run(() => new Promise<string>((resolve) => (release = resolve)));
    await expect(breaker.run(succeed), 'only one trial at a time').rejects.toBeInstanceOf(BreakerOpenError);
    release('ok');
    await expect(trial).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('a success resets the count of consecutive failures', async () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock(), failureThreshold: 2 });
    await expect(breaker.run(fail)).rejects.toThrow();
    await breaker.run(succeed);
    await expect(breaker.run(fail)).rejects.toThrow();
    expect(breaker.state).toBe('closed');
  });
});
