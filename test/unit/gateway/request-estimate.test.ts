/**
 * The output-token estimate a request reserves before the upstream call: an upper bound of what
 * the upstream may bill, for every completion it is asked for.
 */
import { describe, expect, it } from 'vitest';
import { maxOutputTokens } from '../../../gateway/proxy/request-estimate.js';

describe('maxOutputTokens', () => {
  it('counts max_tokens once per completion asked for (n, or best_of of /v1/completions)', () => {
    expect(maxOutputTokens({ max_tokens: 100 }, 1024)).toBe(100);
    expect(maxOutputTokens({ max_tokens: 100, n: 8 }, 1024)).toBe(800);
    expect(maxOutputTokens({ max_completion_tokens: 50, n: 3 }, 1024)).toBe(150);
    expect(maxOutputTokens({ max_tokens: 10, n: 2, best_of: 5 }, 1024)).toBe(50);
    expect(maxOutputTokens({ n: 4 }, 1024)).toBe(4096);
  });

  it('the product stays a whole number within the cap, whatever n says', () => {
    expect(maxOutputTokens({ max_tokens: 4096, n: 128 }, 1024, 131_072)).toBe(131_072);
    expect(maxOutputTokens({ max_tokens: 1e308, n: 1e308 }, 1024, 131_072)).toBe(131_072);
    for (const n of [0, -3, 2.5, Number.NaN, '8', null, 1e300])
      expect(maxOutputTokens({ max_tokens: 100, n }, 1024, 131_072)).toBe(100);
  });
});
