/**
 * Passes an upstream SSE stream through event by event while reading its usage. Complete events
 * go out as soon as their terminating blank line has arrived; chunks without `"usage"` are
 * forwarded as they are (no decoding). With `dropUsageChunk`, the usage-only chunk (empty
 * `choices`, non-null `usage`) that the gateway asked for on the client's behalf is removed.
 */
import type { Usage } from '../../src/policy/admission.js';
import { usageOf } from './usage-parse.js';

const USAGE_KEY = Buffer.from('"usage"');
const LF2 = Buffer.from('\n\n');
const CRLF2 = Buffer.from('\r\n\r\n');

export class SseUsageFilter {
  usage: Usage | undefined;
  /** `data:` lines passed to the client: about one output token each (a cut stream's charge). */
  deliveredEvents = 0;
  private rest: Buffer | undefined;

  constructor(private readonly dropUsageChunk: boolean) {}

  /** Returns what can be sent now (undefined: nothing yet). */
  push(chunk: Buffer): Buffer | undefined {
    const buffer = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    const end = Math.max(lastEnd(buffer, LF2), lastEnd(buffer, CRLF2));
    if (end <= 0) {
      this.rest = buffer;
      return undefined;
    }
    this.rest = end < buffer.length ? buffer.subarray(end) : undefined;
    const complete = end === buffer.length ? buffer : buffer.subarray(0, end);
    const out = complete.indexOf(USAGE_KEY) < 0 ? complete : this.processEvents(complete);
    if (out !== undefined) this.deliveredEvents += countData(out);
    return out;
  }

  /** The stream ended: whatever is left (an unterminated last event) goes out as is. */
  end(): Buffer | undefined {
    const rest = this.rest;
    this.rest = undefined;
    if (rest === undefined || rest.length === 0) return undefined;
    if (rest.indexOf(USAGE_KEY) >= 0) return this.processEvents(rest);
    return rest;
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
