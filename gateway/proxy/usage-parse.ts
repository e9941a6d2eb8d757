/**
 * Reading `usage` out of upstream answers: chat/completions/embeddings (`prompt_tokens`,
 * `completion_tokens`), the Responses API (`input_tokens`, `output_tokens`, also nested in
 * `response.usage` of stream events).
 */
import type { Usage } from '../../src/policy/admission.js';

export function usageOf(payload: unknown): Usage | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const record = payload as { usage?: unknown; response?: { usage?: unknown } };
  return usageFields(record.usage) ?? usageFields(record.response?.usage);
}

function usageFields(usage: unknown): Usage | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  const input = numberOr(u.prompt_tokens, numberOr(u.input_tokens, undefined));
  if (input === undefined) return undefined;
  const output = numberOr(u.completion_tokens, numberOr(u.output_tokens, 0)) ?? 0;
  return { inputTokens: input, outputTokens: output };
}

function numberOr(value: unknown, fallback: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

const USAGE_KEY = Buffer.from('"usage"');

/**
 * Usage of a non-streamed JSON answer. Reads only the top-level `"usage": {...}` object when it
 * can find it (an escaped `\"usage\"` inside generated text is skipped), else parses it all.
 */
export function usageOfJsonBuffer(buffer: Buffer): Usage | undefined {
  let at = buffer.lastIndexOf(USAGE_KEY);
  while (at > 0 && buffer[at - 1] === 0x5c /* \ */) at = buffer.lastIndexOf(USAGE_KEY, at - 1);
  if (at < 0) return undefined;
  let i = at + USAGE_KEY.length;
  while (
    i < buffer.length &&
    (buffer[i] === 0x20 ||
      buffer[i] === 0x3a ||
      buffer[i] === 0x0a ||
      buffer[i] === 0x0d ||
      buffer[i] === 0x09)
  )
    i++;
  if (buffer[i] === 0x7b /* { */) {
    let depth = 0;
    for (let j = i; j < buffer.length; j++) {
      const byte = buffer[j];
      if (byte === 0x7b) depth++;
      else if (byte === 0x7d && --depth === 0) {
        try {
          const usage = usageFields(JSON.parse(buffer.toString('utf8', i, j + 1)));
          if (usage !== undefined) return usage;
        } catch {
          break;
        }
        break;
      }
    }
  }
  try {
    return usageOf(JSON.parse(buffer.toString('utf8')));
  } catch {
    return undefined;
  }
}
