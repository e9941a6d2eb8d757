import { describe, expect, it } from 'vitest';
import { costMicros } from '../../../src/budget/cost.js';

describe('costMicros', () => {
  const pricing = { inputMicrosPerMtok: 150_000, outputMicrosPerMtok: 600_000 }; // $0.15 / $0.60 per Mtok

  it('is exact in integer micro-USD when the product divides evenly', () => {
    expect(costMicros(pricing, 1_000_000, 1_000_000)).toBe(750_000);
    expect(costMicros(pricing, 0, 0)).toBe(0);
  });

  it('rounds a fraction of a micro-USD up, so rounding never lets a budget overshoot', () => {
    expect(costMicros(pricing, 1, 0)).toBe(1);
    expect(costMicros(pricing, 10, 10)).toBe(8); // 7.5 → 8
  });

  it('stays exact when tokens × price passes 2^53', () => {
    const tokens = 10_000_001;
    const price = 999_999_999;
    const expected = (BigInt(tokens) * BigInt(price) + 999_999n) / 1_000_000n;
    expect(Number.isSafeInteger(tokens * price)).toBe(false);
    expect(costMicros({ inputMicrosPerMtok: price, outputMicrosPerMtok: 0 }, tokens, 0)).toBe(
      Number(expected),
    );
  });
});
