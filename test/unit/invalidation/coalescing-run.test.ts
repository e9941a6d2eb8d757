import { describe, expect, it } from 'vitest';
import { coalescingRun } from '../../../src/invalidation/coalescing-run.js';

/** A task whose runs are held until released, recording when each starts. */
function heldTask() {
  const gates: (() => void)[] = [];
  let runs = 0;
  let failNext = false;
  const task = async (): Promise<void> => {
    runs++;
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failNext) {
      failNext = false;
      throw new Error('admin down');
    }
  };
  const releaseOne = async () => {
    gates.shift()?.();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return {
    task,
    releaseOne,
    runs: () => runs,
    failNextRun: () => void (failNext = true),
  };
}

describe('coalescingRun', () => {
  it('a trigger during a run is not skipped: one more run starts right after the current one', async () => {
    const held = heldTask();
    const run = coalescingRun(held.task, () => {});
    const first = run();
    expect(held.runs()).toBe(1);
    void run(); // a timer tick while the first run is slow
    await held.releaseOne();
    expect(held.runs()).toBe(2);
    await held.releaseOne();
    await first;
    expect(held.runs()).toBe(2);
  });

  it('many triggers during one run make a single extra run (no pile-up), and runs never overlap', async () => {
    const held = heldTask();
    const run = coalescingRun(held.task, () => {});
    const first = run();
    for (let i = 0; i < 10; i++) void run();
    await held.releaseOne();
    expect(held.runs()).toBe(2);
    await held.releaseOne();
    await first;
    expect(held.runs()).toBe(2);
    const later = run();
    expect(held.runs()).toBe(3);
    await held.releaseOne();
    await later;
  });

  it('a failed run is reported, drops the booked rerun, and the next trigger runs again', async () => {
    const held = heldTask();
    const errors: unknown[] = [];
    const run = coalescingRun(held.task, (error) => errors.push(error));
    held.failNextRun();
    const first = run();
    void run();
    await held.releaseOne();
    await first;
    expect(errors).toHaveLength(1);
    expect(held.runs()).toBe(1);
    const second = run();
    await held.releaseOne();
    await second;
    expect(held.runs()).toBe(2);
  });
});
