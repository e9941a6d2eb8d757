/**
 * Request cost in integer micro-USD from a target's prices (micro-USD per million tokens),
 * rounded up so that a budget can only be under-used, never overshot by rounding.
 */
import type { TargetRoute } from '../policy/resolved-policy.js';

export type Pricing = Pick<TargetRoute, 'inputMicrosPerMtok' | 'outputMicrosPerMtok'>;

const PER_MTOK = 1_000_000;

export function costMicros(pricing: Pricing, inputTokens: number, outputTokens: number): number {
  const inputPrice = Math.ceil(pricing.inputMicrosPerMtok);
  const outputPrice = Math.ceil(pricing.outputMicrosPerMtok);
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
  return Number(exact / BigInt(PER_MTOK));
}
