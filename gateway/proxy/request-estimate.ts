/**
 * Token figures known before the upstream call (DESIGN.md: prompt characters / 4, plus the
 * requested maximum output or the configured default).
 */

/** ceil(characters / 4) over the prompt text: `messages[].content`, `prompt`, `input`. */
export function estimateInputTokens(body: Record<string, unknown>): number {
  const characters = textLength(body.messages, 0) + textLength(body.prompt, 0) + textLength(body.input, 0);
  return Math.ceil(characters / 4);
}

/** `max_tokens` | `max_completion_tokens` | `max_output_tokens` | the default. */
export function maxOutputTokens(body: Record<string, unknown>, defaultMaxTokens: number): number {
  for (const value of [body.max_tokens, body.max_completion_tokens, body.max_output_tokens]) {
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  }
  return defaultMaxTokens;
}

const MAX_DEPTH = 4;

function textLength(value: unknown, depth: number): number {
  if (typeof value === 'string') return value.length;
  if (depth > MAX_DEPTH || typeof value !== 'object' || value === null) return 0;
  if (Array.isArray(value)) {
    let total = 0;
    for (const item of value) total += textLength(item, depth + 1);
    return total;
  }
  const record = value as Record<string, unknown>;
  // Message objects carry `content`; content parts and Responses input items carry `text`.
  return textLength(record.content, depth + 1) + textLength(record.text, depth + 1);
}
