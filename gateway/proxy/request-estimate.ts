/**
 * Token figures known before the upstream call (DESIGN.md: prompt characters / 4, plus the
 * requested maximum output or the configured default). Both are finite whole numbers: the input
 * is bounded by the body size, the output by the configured maximum.
 */

/**
 * ceil(characters / 4) over the prompt: the text of `messages[].content`, `prompt`, `input`,
 * `instructions` (Responses API), and
 * the JSON of tool definitions (`tools`, `functions`) and of earlier tool calls in the messages,
 * which the upstream bills as input too (40 KB of `tools` beside "hi" was estimated at 1 token).
 */
export function estimateInputTokens(body: Record<string, unknown>): number {
  const characters =
    textLength(body.messages, 0) +
    textLength(body.prompt, 0) +
    textLength(body.input, 0) +
    textLength(body.instructions, 0) +
    jsonLength(body.tools) +
    jsonLength(body.functions);
  return Math.ceil(characters / 4);
}

/** Characters of a parsed JSON value written out again (0 when absent). */
function jsonLength(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return JSON.stringify(value).length;
}

/**
 * The largest of `max_tokens`, `max_completion_tokens`, `max_output_tokens` (upstreams differ in
 * which one they obey: vLLM takes `max_completion_tokens` over `max_tokens`, so `max_tokens: 1`
 * beside it must not reserve 1), else the default, per completion,
 * times the completions asked for (`n`, or `best_of` of /v1/completions: the upstream bills every
 * one of them), as a whole number of at most `cap` (KEYGATE_MAX_OUTPUT_TOKENS): `1e308` or
 * `Infinity` never reach a cost estimate. Without the multiplier, `n: 128` bought 128 times the
 * output a budget or token window had reserved for.
 */
export function maxOutputTokens(
  body: Record<string, unknown>,
  defaultMaxTokens: number,
  cap = Number.MAX_SAFE_INTEGER,
): number {
  const completions = completionsAskedFor(body);
  let most = -1;
  for (const value of [body.max_tokens, body.max_completion_tokens, body.max_output_tokens]) {
    if (typeof value === 'number' && Number.isFinite(value) && value > most) most = Math.floor(value);
  }
  return Math.min((most >= 0 ? most : defaultMaxTokens) * completions, cap);
}

/** The larger of `n` and `best_of` when a whole number above 1, else 1. */
function completionsAskedFor(body: Record<string, unknown>): number {
  let most = 1;
  for (const value of [body.n, body.best_of]) {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > most) most = value;
  }
  return most;
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
  // Message objects carry `content` (and an assistant's `tool_calls`); content parts and
  // Responses input items carry `text`.
  return (
    textLength(record.content, depth + 1) + textLength(record.text, depth + 1) + jsonLength(record.tool_calls)
  );
}
