/**
 * What one admission charges to the counter store (issue 4 windows; issue 14 parallel caps and
 * shadow limits), and how the store's answer reads back: which charge refused, and the
 * `x-ratelimit-*` figures.
 *
 * - Windows: every configured window of every scope, keyed by window start (windows.ts).
 * - Parallel caps (`max_parallel_requests`): one held counter per scope (`held: true`), `+1` at
 *   admission and given back when the request ends however it ends (LimitsAdmission's settle,
 *   release and abort call `endHeld`). It has no window and never resets by itself: in Redis the
 *   slots are held under the gateway's lease, so a crashed gateway's slots are freed within the
 *   lease TTL (redis-counter-store.ts); the day-long TTL only collects a counter nobody uses.
 * - Shadow limits: charged like the others (so they count every admitted request) with an
 *   unreachable limit, so they can never refuse; `shadowRefusals` reports the ones whose real
 *   limit the request went over.
 */
import { SCOPES, SHADOW_BITS, windowLimit, type Scope } from '../policy/limits.js';
import { NO_RATE_LIMIT_HEADERS, type RateLimitHeaders } from '../policy/admission.js';
import { scopeState, type ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import type { CounterCharge } from './counter-store.js';
import { CounterKeys, DAY_MS, ParallelKeys, WINDOWS, windowParam, windowStart } from './windows.js';

/** Counter-key strings, for stores keyed by string (Redis): built on first use, shared per window start. */
const windowKeys = new CounterKeys();
const parallelKeys = new ParallelKeys();

/**
 * One charge of a plan. A window counter is named in parts (scope, scope id, window, start), which
 * is all the memory store reads (window-cells.ts); its `key` string is built only when a store
 * keyed by string asks for it (issue 15: no string per key and window start in memory mode).
 */
export class PlannedCharge implements CounterCharge {
  private cachedKey: string | undefined = undefined;

  constructor(
    readonly scope: Scope,
    readonly scopeId: string,
    /** Index in WINDOWS; -1 for a parallel cap. */
    readonly window: number,
    /** Window start (0 for a parallel cap). */
    readonly startMs: number,
    readonly amount: number,
    readonly limit: number,
    readonly ttlMs: number,
    readonly held: boolean,
    readonly unit: 'requests' | 'tokens' | 'in_flight',
    /** `key_rpm`, `team_parallel`, ...: the public name of the limit. */
    readonly param: string,
    /** Epoch ms at which the window resets (parallel caps: a retry hint one second away). */
    readonly endMs: number,
    /** Set on shadow charges: the real limit (`limit` is then unreachable). */
    readonly shadowLimit: number | undefined,
    /** The scope's state in the cached policy (CounterCharge `holder`). */
    readonly holder: object | undefined = undefined,
  ) {}

  get key(): string {
    return (this.cachedKey ??=
      this.window < 0
        ? parallelKeys.get(this.scope, this.scopeId)
        : windowKeys.get(this.scope, this.scopeId, this.window, this.startMs));
  }
}

/** Counters outlive their window by this much (garbage collection only). */
const TTL_SLACK_MS = 1_000;
/** The limit a shadow limit is counted under: it never refuses. */
export const UNREACHABLE = Number.MAX_SAFE_INTEGER;
/** Retry hint of a parallel-cap refusal. */
export const PARALLEL_RETRY_MS = 1_000;

const WINDOW_BITS = WINDOWS.map((window) => SHADOW_BITS[window.name]);
/** Per scope (SCOPES order), per window (WINDOWS order): the param. Arrays, not records: see `scopeState`. */
const PARAMS: readonly (readonly string[])[] = SCOPES.map((scope) =>
  WINDOWS.map((window) => windowParam(scope, window.name)),
);
export const PARALLEL_PARAM: Record<Scope, string> = {
  key: 'key_parallel',
  team: 'team_parallel',
  org: 'org_parallel',
};
const PARALLEL_PARAMS: readonly string[] = SCOPES.map((scope) => PARALLEL_PARAM[scope]);

/** Every configured window of the three scopes in report order (key, team, org × WINDOWS), then parallel caps. */
export function plan(policy: ResolvedKeyPolicy, now: number, tokenReservation: number): PlannedCharge[] {
  const charges: PlannedCharge[] = [];
  for (let s = 0; s < SCOPES.length; s++) {
    const scope = SCOPES[s]!;
    const state = scopeState(policy, scope);
    const limits = state.limits;
    const shadow = limits.shadow ?? 0;
    const params = PARAMS[s]!;
    for (let w = 0; w < WINDOWS.length; w++) {
      const window = WINDOWS[w]!;
      const limit = windowLimit(limits, window.name);
      if (limit === null) continue;
      const start = windowStart(window.lengthMs, now);
      const shadowed = shadow !== 0 && (shadow & WINDOW_BITS[w]!) !== 0;
      charges.push(
        new PlannedCharge(
          scope,
          state.id,
          w,
          start,
          window.unit === 'requests' ? 1 : tokenReservation,
          shadowed ? UNREACHABLE : limit,
          window.lengthMs + TTL_SLACK_MS,
          false,
          window.unit,
          params[w]!,
          start + window.lengthMs,
          shadowed ? limit : undefined,
          state,
        ),
      );
    }
  }
  for (let s = 0; s < SCOPES.length; s++) {
    const scope = SCOPES[s]!;
    const state = scopeState(policy, scope);
    const max = state.limits.maxParallel;
    if (max === null || max === undefined) continue;
    const shadowed = ((state.limits.shadow ?? 0) & SHADOW_BITS.parallel) !== 0;
    charges.push(
      new PlannedCharge(
        scope,
        state.id,
        -1,
        0,
        1,
        shadowed ? UNREACHABLE : max,
        DAY_MS,
        true,
        'in_flight',
        PARALLEL_PARAMS[s]!,
        now + PARALLEL_RETRY_MS,
        shadowed ? max : undefined,
      ),
    );
  }
  return charges;
}

/** Params of the shadow charges the admitted request went over (values are after the charge). */
export function shadowRefusals(
  charges: readonly PlannedCharge[],
  values: readonly number[],
): string[] | undefined {
  let refused: string[] | undefined;
  for (let i = 0; i < charges.length; i++) {
    const charge = charges[i]!;
    if (charge.shadowLimit !== undefined && values[i]! > charge.shadowLimit)
      (refused ??= []).push(charge.param);
  }
  return refused;
}

export function smallestTokenLimit(policy: ResolvedKeyPolicy): number {
  let smallest = Infinity;
  for (const scope of SCOPES) {
    const { tpm, tpd, shadow = 0 } = scopeState(policy, scope).limits;
    if (tpm !== null && tpm < smallest && (shadow & SHADOW_BITS.tpm) === 0) smallest = tpm;
    if (tpd !== null && tpd < smallest && (shadow & SHADOW_BITS.tpd) === 0) smallest = tpd;
  }
  return smallest;
}

/**
 * Of the charges that refused, the one resetting last: retrying earlier would be refused again.
 * On a tie, the first in report order.
 */
export function failingCharge(charges: readonly PlannedCharge[], values: readonly number[]): PlannedCharge {
  let failing: PlannedCharge | undefined;
  for (let i = 0; i < charges.length; i++) {
    const charge = charges[i]!;
    if (values[i]! + charge.amount <= charge.limit) continue;
    if (failing === undefined || charge.endMs > failing.endMs) failing = charge;
  }
  if (failing === undefined) throw new Error('counter store refused a charge that fits every window');
  return failing;
}

/**
 * The enforced window with the smallest remaining fraction, for requests and for tokens separately
 * (the first in report order on a tie). The object is built once at the end: numbers stored into
 * it while searching would each be boxed.
 */
export function headersFor(
  charges: readonly PlannedCharge[],
  values: readonly number[],
  now: number,
): RateLimitHeaders {
  let requests = -1;
  let tokens = -1;
  let requestsFraction = Infinity;
  let tokensFraction = Infinity;
  for (let i = 0; i < charges.length; i++) {
    const charge = charges[i]!;
    if (charge.unit === 'in_flight' || charge.shadowLimit !== undefined) continue;
    const remaining = Math.max(0, charge.limit - values[i]!);
    const fraction = charge.limit > 0 ? remaining / charge.limit : 0;
    if (charge.unit === 'requests') {
      if (fraction < requestsFraction) {
        requestsFraction = fraction;
        requests = i;
      }
    } else if (fraction < tokensFraction) {
      tokensFraction = fraction;
      tokens = i;
    }
  }
  if (requests < 0 && tokens < 0) return NO_RATE_LIMIT_HEADERS;
  const r = requests < 0 ? undefined : charges[requests]!;
  const t = tokens < 0 ? undefined : charges[tokens]!;
  return {
    limitRequests: r === undefined ? null : r.limit,
    remainingRequests: r === undefined ? null : Math.max(0, r.limit - values[requests]!),
    resetRequestsMs: r === undefined ? null : r.endMs - now,
    limitTokens: t === undefined ? null : t.limit,
    remainingTokens: t === undefined ? null : Math.max(0, t.limit - values[tokens]!),
    resetTokensMs: t === undefined ? null : t.endMs - now,
  };
}
