/**
 * The window counters of the memory store, kept per scope (issue 15): one cell per scope id
 * (key, team or org) holding a slot per window it uses, found through the scope id string the
 * cached policy already holds. No string is built or kept per counter, and a new window reuses
 * its slot, so a key with rpm + tpm costs one Map entry and two slots of six numbers (~180 bytes
 * with the Map and array slack) where string-keyed counters cost ~420 (two ~72-byte key strings
 * per window start, their Map entries, the per-minute key cache).
 *
 * A window slot holds two generations, each a (start, value, expiry) triple: the current window
 * and the one before. A counter is the generation whose start equals the charge's; it lives until
 * its expiry (creation + ttl, as in the string-keyed store), after which it reads as absent. A
 * charge for a start after the current one rolls the slot: current becomes previous. The previous
 * generation is still alive at that moment only if it was created in the last second of its window
 * and the roll comes within a second of the new one (ttl = window + 1 s), so keeping it elsewhere
 * (`spill`, to the string-keyed store under its `counterKey`) is rare. A start older than the
 * current one that is not the previous one (a clock set back) is not a cell's: `locate` answers
 * OTHER and the caller uses the string-keyed store, which holds every such counter. So each
 * counter lives in exactly one place, and the current start of a slot only ever grows.
 *
 * Garbage collection: a cell's `expiry` is the latest expiry of anything created in it or kept
 * elsewhere for it (`outlive`); a hand visits a few cells per creation and frees those past it
 * (their Map entry and slots), so no counter of a freed cell is alive anywhere.
 */
import { scopeIndex, type Scope } from '../policy/limits.js';
import { WINDOWS } from './windows.js';

/** `locate` answers: the value's index in `values` (≥ 0), or one of these. */
export const ABSENT = -1;
export const OTHER = -2;

const WINDOW_COUNT = WINDOWS.length;
/** Per window slot: current start, value, expiry; previous start, value, expiry. */
const CUR = 0;
const PREV = 3;
const START = 0;
const VALUE = 1;
const EXPIRY = 2;
const SLOT = 6;
/** Cells the hand visits per creation. */
const SWEEP_STEP = 4;

export type Spill = (
  scope: Scope,
  scopeId: string,
  window: number,
  startMs: number,
  value: number,
  expiresAt: number,
) => void;

export class WindowCells {
  /** Per scope (key, team, org): scope id → cell. */
  private readonly cellsOf: Map<string, number>[] = [new Map(), new Map(), new Map()];
  private ids: (string | undefined)[] = [];
  private scopes = new Uint8Array(256);
  /** Per cell and window: slot + 1, 0 = none. */
  private windows = new Int32Array(256 * WINDOW_COUNT);
  private expiries = new Float64Array(256);
  private readonly freeCells: number[] = [];
  private cellCount = 0;
  /** SLOT numbers per window slot. */
  values = new Float64Array(512 * SLOT);
  private readonly freeSlots: number[] = [];
  private slotTotal = 0;
  private hand = 0;
  /** Generations holding a counter, expired or not (diagnostics). */
  held = 0;
  /**
   * Per scope: the scope id and cell of the last lookup. A plan charges each scope's windows one
   * after the other (key rpm, key tpm, ...), so all but the first find their cell without a probe
   * of a map holding every cached key (a likely cache miss with many keys, issue 15). Checked
   * against `ids`, so a cell freed or reused since reads as a miss.
   */
  private readonly lastIds: (string | undefined)[] = [undefined, undefined, undefined];
  private readonly lastCells = new Int32Array(3);
  /** The property under which a holder keeps its cell (`remember`). */
  private readonly memo = Symbol('window cell');

  constructor(private readonly spill: Spill) {}

  /** Where the counter of `window` starting at `startMs` of this scope is (a value index, ABSENT or OTHER). */
  locate(
    scope: Scope,
    scopeId: string,
    window: number,
    startMs: number,
    now: number,
    holder?: object,
  ): number {
    const cell = this.cellOf(scopeIndex(scope), scopeId, holder);
    if (cell < 0) return ABSENT;
    const slot = this.windows[cell * WINDOW_COUNT + window]! - 1;
    if (slot < 0) return ABSENT;
    const base = slot * SLOT;
    const values = this.values;
    if (values[base + CUR + START] === startMs)
      return values[base + CUR + EXPIRY]! > now ? base + CUR + VALUE : ABSENT;
    if (startMs > values[base + CUR + START]!) return ABSENT;
    if (values[base + PREV + START] === startMs)
      return values[base + PREV + EXPIRY]! > now ? base + PREV + VALUE : ABSENT;
    return OTHER;
  }

  /**
   * A new counter at `value` (the caller found it ABSENT), expiring `ttlMs` from now; its value
   * index, or OTHER when its start is older than the slot's current one (the caller keeps it).
   */
  create(
    scope: Scope,
    scopeId: string,
    window: number,
    startMs: number,
    value: number,
    ttlMs: number,
    now: number,
    holder?: object,
  ): number {
    const s = scopeIndex(scope);
    const expiresAt = now + Math.max(1, ttlMs);
    // First, so it never frees the cell written below (a found counter's cell is alive: not freed).
    this.sweep(now);
    let cell = this.cellOf(s, scopeId, holder);
    if (cell < 0) {
      cell = this.newCell(s, scopeId);
      if (holder !== undefined) this.remember(holder, cell);
    }
    const at = cell * WINDOW_COUNT + window;
    let slot = this.windows[at]! - 1;
    let generation = CUR;
    if (slot < 0) {
      slot = this.newSlot();
      this.windows[at] = slot + 1;
    } else {
      const base = slot * SLOT;
      const values = this.values;
      const current = values[base + CUR + START]!;
      if (startMs === current) generation = CUR;
      else if (startMs === values[base + PREV + START]) generation = PREV;
      else if (startMs < current) return OTHER;
      else {
        // Roll: the previous generation leaves (kept elsewhere while alive), current becomes previous.
        if (values[base + PREV + EXPIRY]! > now)
          this.spill(
            scope,
            scopeId,
            window,
            values[base + PREV + START]!,
            values[base + PREV + VALUE]!,
            values[base + PREV + EXPIRY]!,
          );
        if (values[base + PREV + EXPIRY]! > 0) this.held--;
        values[base + PREV + START] = current;
        values[base + PREV + VALUE] = values[base + CUR + VALUE]!;
        values[base + PREV + EXPIRY] = values[base + CUR + EXPIRY]!;
        values[base + CUR + EXPIRY] = 0;
      }
    }
    const base = slot * SLOT + generation;
    if (this.values[base + EXPIRY] === 0) this.held++;
    this.values[base + START] = startMs;
    this.values[base + VALUE] = value;
    this.values[base + EXPIRY] = expiresAt;
    if (expiresAt > this.expiries[cell]!) this.expiries[cell] = expiresAt;
    return base + VALUE;
  }

  /**
   * A counter of this scope's `window` was created by key elsewhere (its start is older than the
   * cell's, see `locate`), expiring at `expiresAt`: the cell lives at least as long, so the starts it
   * holds keep routing that counter there (a cell made anew could hold its start itself).
   */
  outlive(scope: Scope, scopeId: string, expiresAt: number): void {
    const cell = this.cellOf(scopeIndex(scope), scopeId);
    if (cell >= 0 && expiresAt > this.expiries[cell]!) this.expiries[cell] = expiresAt;
  }

  /** Cells in use (diagnostics). */
  get cells(): number {
    return this.cellCount - this.freeCells.length;
  }

  /** Window slots ever allocated (diagnostics). */
  get slots(): number {
    return this.slotTotal;
  }

  /**
   * The scope id's cell, or -1: first where `holder` (the cached policy's scope state, see
   * CounterCharge) keeps it, then the last lookup of the scope, then the map. Both memos are
   * checked against `ids` and `scopes`, so a cell freed or reused since reads as a miss.
   */
  private cellOf(s: number, scopeId: string, holder?: object): number {
    if (holder !== undefined) {
      const kept = (holder as Record<symbol, number | undefined>)[this.memo];
      if (kept !== undefined && this.ids[kept] === scopeId && this.scopes[kept] === s) return kept;
    }
    if (this.lastIds[s] === scopeId) {
      const cell = this.lastCells[s]!;
      if (this.ids[cell] === scopeId && this.scopes[cell] === s) {
        if (holder !== undefined) this.remember(holder, cell);
        return cell;
      }
    }
    const cell = this.cellsOf[s]!.get(scopeId);
    if (cell === undefined) return -1;
    this.lastIds[s] = scopeId;
    this.lastCells[s] = cell;
    if (holder !== undefined) this.remember(holder, cell);
    return cell;
  }

  /**
   * Keeps `cell` on `holder` under this instance's symbol, non-enumerable (invisible to JSON and
   * equality; a policy seen by two stores keeps one for each). Frozen holders (interned team and
   * org states, shared by many keys: their cells are found by the last-lookup memo) are skipped.
   */
  private remember(holder: object, cell: number): void {
    const kept = holder as Record<symbol, number | undefined>;
    if (kept[this.memo] !== undefined) kept[this.memo] = cell;
    else if (Object.isExtensible(holder))
      Object.defineProperty(holder, this.memo, { value: cell, writable: true, enumerable: false });
  }

  private newCell(s: number, scopeId: string): number {
    let cell = this.freeCells.pop();
    if (cell === undefined) {
      cell = this.cellCount++;
      if (cell === this.expiries.length) this.growCells();
    }
    this.cellsOf[s]!.set(scopeId, cell);
    this.lastIds[s] = scopeId;
    this.lastCells[s] = cell;
    this.ids[cell] = scopeId;
    this.scopes[cell] = s;
    this.expiries[cell] = 0;
    return cell;
  }

  private newSlot(): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.slotTotal++;
      if ((slot + 1) * SLOT > this.values.length) this.values = grown(this.values, SLOT);
    }
    // Both generations empty: start -Infinity never equals a window start, expiry 0 is past.
    const base = slot * SLOT;
    this.values[base + CUR + START] = -Infinity;
    this.values[base + CUR + EXPIRY] = 0;
    this.values[base + PREV + START] = -Infinity;
    this.values[base + PREV + EXPIRY] = 0;
    return slot;
  }

  private growCells(): void {
    const capacity = this.expiries.length * 2;
    this.expiries = grown(this.expiries, 1, capacity);
    const windows = new Int32Array(capacity * WINDOW_COUNT);
    windows.set(this.windows);
    this.windows = windows;
    const scopes = new Uint8Array(capacity);
    scopes.set(this.scopes);
    this.scopes = scopes;
  }

  /** Frees the cells among the next SWEEP_STEP whose every counter has expired. */
  private sweep(now: number): void {
    const count = this.cellCount;
    if (count === 0) return;
    for (let step = 0; step < SWEEP_STEP; step++) {
      const cell = this.hand;
      this.hand = cell + 1 >= count ? 0 : cell + 1;
      const id = this.ids[cell];
      if (id === undefined || this.expiries[cell]! > now) continue;
      this.cellsOf[this.scopes[cell]!]!.delete(id);
      this.ids[cell] = undefined;
      for (let w = 0; w < WINDOW_COUNT; w++) {
        const slot = this.windows[cell * WINDOW_COUNT + w]! - 1;
        if (slot < 0) continue;
        const base = slot * SLOT;
        if (this.values[base + CUR + EXPIRY]! > 0) this.held--;
        if (this.values[base + PREV + EXPIRY]! > 0) this.held--;
        this.windows[cell * WINDOW_COUNT + w] = 0;
        this.freeSlots.push(slot);
      }
      this.freeCells.push(cell);
    }
  }
}

/** A copy of `array` with room for at least `minimum` numbers (by `unit`s), half as much again at least. */
function grown(array: Float64Array, unit: number, minimum = 0): Float64Array<ArrayBuffer> {
  const size = Math.max(minimum, Math.ceil((array.length / unit) * 1.5) * unit);
  const copy = new Float64Array(size);
  copy.set(array);
  return copy;
}
