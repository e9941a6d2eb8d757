/**
 * The client's JSON body, checked before anything relies on it (issue 10):
 * - nesting deeper than `MAX_JSON_DEPTH` is refused (a 5,000-deep array once made forwarding
 *   throw a RangeError after admission);
 * - a duplicate object key anywhere is refused (`{"model":"a","model":"b"}`): the gateway decides
 *   on the body it parsed and forwards the client's bytes, so both must mean the same thing to
 *   every parser the upstream might use.
 * - a field the gateway counts with (`stream`, `n`, `best_of`, `max_tokens`,
 *   `max_completion_tokens`, `max_output_tokens`) must have its JSON type (boolean, number) or be
 *   null: upstreams that coerce types (vLLM's `"n": "8"`, `"stream": "true"`) would obey a string
 *   the gateway's estimate ignored, buying 8× the output a budget reserved for (OpenAI refuses
 *   them with 400 too).
 * The scan runs over the text once, before JSON.parse, and never recurses.
 */
export const MAX_JSON_DEPTH = 64;

export type BodyCheck =
  { ok: true; json: Record<string, unknown> } | { ok: false; param: string | null; message: string };

/** A JSON object body, or why it is refused (always `invalid_request`). */
export function parseRequestBody(raw: Buffer): BodyCheck {
  const text = raw.toString('utf8');
  const problem = scan(text);
  if (problem !== undefined) return problem;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, param: null, message: 'The request body is not valid JSON.' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, param: null, message: 'The request body must be a JSON object.' };
  }
  const json = parsed as Record<string, unknown>;
  const mistyped = mistypedCountedField(json);
  if (mistyped !== undefined) return { ok: false, param: mistyped.field, message: mistyped.message };
  return { ok: true, json };
}

/** The fields the gateway's decision reads, with the JSON type each must have when present. */
const COUNTED_FIELDS = [
  ['stream', 'boolean'],
  ['n', 'number'],
  ['best_of', 'number'],
  ['max_tokens', 'number'],
  ['max_completion_tokens', 'number'],
  ['max_output_tokens', 'number'],
] as const;

function mistypedCountedField(json: Record<string, unknown>): { field: string; message: string } | undefined {
  for (const [field, type] of COUNTED_FIELDS) {
    const value = json[field];
    if (value === undefined || value === null || typeof value === type) continue;
    return { field, message: `${field} must be a ${type} (or null).` };
  }
  return undefined;
}

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
/** Past this many keys an object's keys go into a Set (a list is cheaper for the usual few). */
const LIST_KEYS = 16;

/** The keys seen so far in one open object. */
class SeenKeys {
  private list: string[] = [];
  private set: Set<string> | undefined;

  /** False when `key` was seen before. */
  add(key: string): boolean {
    if (this.set !== undefined) {
      if (this.set.has(key)) return false;
      this.set.add(key);
      return true;
    }
    if (this.list.includes(key)) return false;
    this.list.push(key);
    if (this.list.length > LIST_KEYS) this.set = new Set(this.list);
    return true;
  }
}

/** Depth and duplicate keys; invalid JSON is left to JSON.parse (this never throws). */
function scan(text: string): Extract<BodyCheck, { ok: false }> | undefined {
  const open: (SeenKeys | null)[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Jump to the closing quote: the next quote not preceded by an odd run of backslashes.
      const start = i;
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return undefined; // unterminated: JSON.parse refuses it
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === BACKSLASH) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
      const keys = open[open.length - 1];
      if (keys === null || keys === undefined) continue;
      let j = i + 1;
      while (j < n && text.charCodeAt(j) <= 32) j++;
      if (text.charCodeAt(j) !== COLON) continue;
      let key = text.slice(start + 1, i);
      if (key.includes('\\')) key = unescape(text.slice(start, i + 1)) ?? key;
      if (!keys.add(key)) {
        const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
        return {
          ok: false,
          param: shown,
          message: `The JSON body has the key "${shown}" twice in one object.`,
        };
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (open.length >= MAX_JSON_DEPTH) {
        return {
          ok: false,
          param: null,
          message: `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`,
        };
      }
      open.push(c === OPEN_OBJECT ? new SeenKeys() : null);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      open.pop();
    }
  }
  return undefined;
}

function unescape(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined; // invalid escape: JSON.parse refuses the whole body
  }
}
