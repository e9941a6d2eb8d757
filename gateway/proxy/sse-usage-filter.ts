/**
 * Passes an upstream SSE stream through event by event while reading its usage. Complete events
 * go out as soon as their terminating blank line has arrived; chunks without `"usage"` are
 * forwarded as they are (no decoding). With `dropUsageChunk`, the usage-only chunk (empty
 * `choices`, non-null `usage`) that the gateway asked for on the client's behalf is removed.
 *
 * Linear in the stream: each chunk is searched once for an event end (plus the last 3 bytes
 * before it, for a separator split across chunks), and an unfinished event is kept as a list of
 * chunks joined once when it ends. An event that grows past SSE_MAX_EVENT_BYTES without ending
 * (a broken or hostile upstream) is passed on unparsed as it arrives, up to its end.
 */
import type { Usage } from '../../src/policy/admission.js';
import { usageOf } from './usage-parse.js';

/** Largest unfinished event held back to read its usage (a usage event is far smaller). */
export const SSE_MAX_EVENT_BYTES = 8 * 1024 * 1024;

const USAGE_KEY = Buffer.from('"usage"');
const LF2 = Buffer.from('\n\n');
const CRLF2 = Buffer.from('\r\n\r\n');
const NOTHING = Buffer.alloc(0);

export class SseUsageFilter {
  usage: Usage | undefined;
  /** `data:` lines passed to the client: about one output token each (a cut stream's charge). */
  deliveredEvents = 0;
  /** The unfinished event's chunks (held back), or none. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside an oversized event that is passed on unparsed until its end. */
  private passing = false;
  /** The last (up to 3) bytes before the next chunk, while an event is unfinished. */
  private tail: Buffer = NOTHING;

  constructor(private readonly dropUsageChunk: boolean) {}

  /** Returns what can be sent now (undefined: nothing yet). */
  push(chunk: Buffer): Buffer | undefined {
    const unfinished = this.pendingBytes > 0 || this.passing;
    const end = eventsEnd(unfinished ? this.tail : NOTHING, chunk);
    if (end <= 0) {
      this.tail = lastBytes(this.tail, chunk);
      if (this.passing) return this.deliver(chunk);
      this.hold(chunk);
      if (this.pendingBytes <= SSE_MAX_EVENT_BYTES) return undefined;
      this.passing = true;
      return this.deliver(this.takePending());
    }
    if (this.passing) {
      // The oversized event ends in this chunk: its end goes out unparsed, like the rest of it,
      // and what follows it is read as usual.
      const first = firstEventEnd(this.tail, chunk);
      this.passing = false;
      this.tail = NOTHING;
      const out = this.deliver(chunk.subarray(0, first));
      if (first === chunk.length) return out;
      const next = this.push(chunk.subarray(first));
      return next === undefined ? out : Buffer.concat([out, next]);
    }
    const head = end === chunk.length ? chunk : chunk.subarray(0, end);
    const complete = this.pendingBytes === 0 ? head : Buffer.concat([...this.pending, head]);
    this.pending = [];
    this.pendingBytes = 0;
    const out = complete.indexOf(USAGE_KEY) < 0 ? complete : this.processEvents(complete);
    this.tail = NOTHING;
    if (end < chunk.length) {
      const rest = chunk.subarray(end);
      this.hold(rest);
      this.tail = lastBytes(NOTHING, rest);
    }
    return out === undefined ? undefined : this.deliver(out);
  }

  /** The stream ended: whatever is left (an unterminated last event) goes out as is. */
  end(): Buffer | undefined {
    this.tail = NOTHING;
    if (this.pendingBytes === 0) return undefined;
    const rest = this.takePending();
    if (this.passing || rest.indexOf(USAGE_KEY) < 0) return rest;
    return this.processEvents(rest);
  }

  private hold(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  private takePending(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  private deliver(out: Buffer): Buffer {
    this.deliveredEvents += countData(out);
    return out;
  }

  private processEvents(complete: Buffer): Buffer | undefined {
    const events = complete.toString('utf8').split(/(?<=\r?\n\r?\n)/);
    let out = '';
    for (const event of events) {
      if (event.includes('"usage"') && this.readUsage(event)) continue;
      out += event;
    }
    return out.length > 0 ? Buffer.from(out) : undefined;
  }

  /** Records the event's usage; true when the event must be dropped. */
  private readUsage(event: string): boolean {
    let data = '';
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith('data:')) data += line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5);
    }
    if (!data.startsWith('{')) return false;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return false;
    }
    const usage = usageOf(payload);
    if (usage === undefined) return false;
    this.usage = usage;
    const choices = (payload as { choices?: unknown }).choices;
    return this.dropUsageChunk && Array.isArray(choices) && choices.length === 0;
  }
}

const DATA = Buffer.from('data:');

/** `data:` lines other than the closing `data: [DONE]`, which carries no output. */
function countData(buffer: Buffer): number {
  let count = 0;
  for (let at = buffer.indexOf(DATA); at >= 0; at = buffer.indexOf(DATA, at + 5)) {
    const value = buffer[at + 5] === 0x20 ? at + 6 : at + 5;
    if (!(buffer[value] === 0x5b /* [ */ && buffer.toString('latin1', value, value + 6) === '[DONE]'))
      count++;
  }
  return count;
}

function lastEnd(buffer: Buffer, separator: Buffer): number {
  const at = buffer.lastIndexOf(separator);
  return at < 0 ? -1 : at + separator.length;
}

/**
 * Offset in `chunk` just past the last event separator, counting one that starts in `before`
 * (the last bytes of the unfinished event) and ends in `chunk`; -1 when `chunk` ends no event.
 */
function eventsEnd(before: Buffer, chunk: Buffer): number {
  const inChunk = Math.max(lastEnd(chunk, LF2), lastEnd(chunk, CRLF2));
  if (inChunk > 0 || before.length === 0) return inChunk;
  const joint = Buffer.concat([before, chunk.subarray(0, 3)]);
  const end = Math.max(lastEnd(joint, LF2), lastEnd(joint, CRLF2));
  return end > before.length ? end - before.length : -1;
}

/** Offset in `chunk` just past the first event separator (one starting in `before` included). */
function firstEventEnd(before: Buffer, chunk: Buffer): number {
  const joint = before.length === 0 ? chunk : Buffer.concat([before, chunk.subarray(0, 3)]);
  let end = -1;
  for (const separator of [LF2, CRLF2]) {
    const at = joint.indexOf(separator);
    if (at >= 0 && at + separator.length > before.length && (end < 0 || at + separator.length < end))
      end = at + separator.length;
  }
  if (end >= 0 || before.length === 0) return end < 0 ? -1 : end - before.length;
  return firstEventEnd(NOTHING, chunk);
}

/** The last 3 bytes of `before` followed by `chunk`. */
function lastBytes(before: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= 3) return Buffer.from(chunk.subarray(chunk.length - 3));
  return Buffer.from(Buffer.concat([before, chunk]).subarray(-3));
}
