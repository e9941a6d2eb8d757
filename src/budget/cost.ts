/**
 * Request cost in integer micro-USD from a target's prices (micro-USD per million tokens),
 * rounded up so that a budget can only be under-used, never overshot by rounding. Whatever comes
 * in (estimates, upstream-reported usage), the answer is a finite safe integer: token counts are
 * clamped by `tokenCount`, and a cost beyond 2^53 micro-USD (9 billion USD) is capped there.
 */
import type { TargetRoute } from '../policy/resolved-policy.js';

export type Pricing = Pick<TargetRoute, 'inputMicrosPerMtok' | 'outputMicrosPerMtok'>;

const PER_MTOK = 1_000_000;

/** No request reads or writes more tokens than this (a billion); larger reports are clamped. */
export const MAX_TOKENS_PER_REQUEST = 1_000_000_000;

/** A token count as a non-negative whole number ≤ MAX_TOKENS_PER_REQUEST (NaN, negatives → 0). */
export function tokenCount(value: number): number {
  if (!(value > 0)) return 0;
  return value >= MAX_TOKENS_PER_REQUEST ? MAX_TOKENS_PER_REQUEST : Math.ceil(value);
}

function price(value: number): number {
  return value > 0 && Number.isFinite(value) ? Math.ceil(value) : 0;
}

export function costMicros(pricing: Pricing, inputTokensIn: number, outputTokensIn: number): number {
  const inputTokens = tokenCount(inputTokensIn);
  const outputTokens = tokenCount(outputTokensIn);
  const inputPrice = price(pricing.inputMicrosPerMtok);
  const outputPrice = price(pricing.outputMicrosPerMtok);
  const numerator = inputTokens * inputPrice + outputTokens * outputPrice;
  if (Number.isSafeInteger(numerator)) {
    // Integer arithmetic, no float quotient to reason about.
    const remainder = numerator % PER_MTOK;
    return (numerator - remainder) / PER_MTOK + (remainder > 0 ? 1 : 0);
  }
  // Beyond 2^53 the product itself is no longer exact: use BigInt (rare: ~1e7 tokens at $1000/Mtok).
  const exact =
    BigInt(inputTokens) * BigInt(inputPrice) +
    BigInt(outputTokens) * BigInt(outputPrice) +
    BigInt(PER_MTOK - 1);
  const cost = exact / BigInt(PER_MTOK);
  return cost > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(cost);
}
