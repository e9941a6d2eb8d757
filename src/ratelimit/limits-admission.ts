/**
 * Exact limits (issue 4): request and token windows plus USD budgets for the key, its team and
 * its org, decided all-or-nothing before the upstream call and reconciled after it.
 *
 * Why a refused request is charged to nothing, and why 200 concurrent admits against rpm 50
 * admit exactly 50: the decision is check-then-commit with no `await` in between.
 * - Budgets: the SpendStore reserves all-or-nothing over the three scopes (see spend-store.ts);
 *   the memory store answers synchronously, and a budget refusal returns before any window is
 *   touched.
 * - Windows: every configured window of every scope goes to the store in ONE `chargeAll`, which
 *   the store applies atomically or not at all (see counter-store.ts). With the memory store that
 *   call is synchronous, so the whole of `admit` up to its result runs without yielding: no other
 *   admission can observe or change a counter between our check and our commit.
 * - With an asynchronous store (Redis) the budget reservation is taken before awaiting
 *   `chargeAll` and released if the windows refuse. In that gap another request may see the
 *   reservation and be refused conservatively; it can never overshoot.
 *
 * Tokens: the reservation is estimated input + max output, capped by the smallest configured
 * token limit of any scope so a key whose TPM is below its max_tokens can still make requests
 * (and at least 1: every request reads a prompt token, so a full window or a limit of 0 refuses).
 * It is charged to the windows current at admission; `settle` replaces it by the real usage in
 * those same windows (unless they are over by then: a finished window no longer matters).
 *
 * Ends of a ticket (exactly one per admitted request; later calls on the same ticket are no-ops):
 * - settle: real tokens replace the reservation; real cost (target prices, rounded up) replaces
 *   the cost estimate in the spend view of all three scopes.
 * - release (the upstream failed, nothing was served): everything is refunded, request counts
 *   included. A window limits what a key may take from the upstream; a failed call took nothing,
 *   and a client retrying a provider outage should not find its quota burnt by our failure.
 * - abort (the client went away): the request stays counted and is charged its input estimate
 *   (tokens and cost), as the upstream has read the prompt.
 */
import { systemClock, type Clock } from '../clock.js';
import type {
  Admission,
  AdmissionOutcome,
  AdmissionRequest,
  AdmissionTicket,
  Usage,
} from '../policy/admission.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import { costMicros, tokenCount, type Pricing } from '../budget/cost.js';
import { MemorySpendStore } from '../budget/memory-spend-store.js';
import type { SpendReservation, SpendReserveResult, SpendStore } from '../budget/spend-store.js';
import { isPromise, type MaybePromise } from '../maybe-promise.js';
import { settled, type ChargeResult, type CounterHold, type CounterStore } from './counter-store.js';
import { MemoryCounterStore } from './memory-counter-store.js';
import {
  failingCharge,
  headersFor,
  plan,
  shadowRefusals,
  smallestTokenLimit,
  type PlannedCharge,
} from './charge-plan.js';
import { effectivePolicy } from '../policy/override.js';
import { shadowBudgetPolicy } from './shadow-budget.js';

interface TicketState {
  charges: PlannedCharge[];
  /** Counter group of the request (its org id, see CounterStore). */
  group: string;
  tokenReservation: number;
  estimatedInputTokens: number;
  reservation: SpendReservation;
  /** The store's handle on the held charges (parallel caps), for `endHeld`. */
  hold: CounterHold | undefined;
  /** Some charge is held (a parallel cap applies). */
  holds: boolean;
  pricing: Pricing;
}

/** How `adjust` treats a ticket's charges. */
const REFUND = 0;
const RECONCILE = 1;
type AdjustMode = typeof REFUND | typeof RECONCILE;
const noop = (): void => {};

/** The ticket carries its own state, so ending it costs no lookup; `state` is cleared when it ends. */
class LimitsTicket implements AdmissionTicket {
  constructor(
    readonly id: number,
    readonly owner: LimitsAdmission,
    public state: TicketState | undefined,
  ) {}
}

export interface WindowUsage {
  /** `key_rpm`, `team_tpd`, `key_parallel` (in flight), ... */
  param: string;
  mode: 'enforce' | 'shadow';
  limit: number;
  used: number;
  resetMs: number;
}

export interface LiveCountersView {
  windows: { param: string; mode: 'enforce' | 'shadow'; limit: number; used: number; reset_ms: number }[];
  budgets: { scope: 'key' | 'team' | 'org'; spend_micros: number; reserved_micros: number }[];
}

export interface LimitsAdmissionOptions {
  /** Window counters; a MemoryCounterStore on `clock` by default. */
  store?: CounterStore;
  /** Budget spend; a MemorySpendStore by default. */
  spend?: SpendStore;
  clock?: Clock;
}

export class LimitsAdmission implements Admission {
  private readonly store: CounterStore;
  private readonly spend: SpendStore;
  private readonly clock: Clock;
  private openTickets = 0;
  private nextTicket = 1;

  constructor(options: LimitsAdmissionOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.store = options.store ?? new MemoryCounterStore({ clock: this.clock });
    this.spend = options.spend ?? new MemorySpendStore();
  }

  async admit(request: AdmissionRequest): Promise<AdmissionOutcome> {
    const now = this.clock.now();
    const { target } = request;
    // A temporary override replaces the key's limits until its expires_at, on this clock.
    const policy = effectivePolicy(request.policy, now);
    // Every request reads at least one prompt token. Besides being true, it keeps a full token
    // window (or a tpm_limit of 0, or a spent budget) from admitting requests estimated at 0.
    const estimatedInputTokens = Math.max(1, tokenCount(request.estimatedInputTokens));
    const maxOutputTokens = tokenCount(request.maxOutputTokens);
    const costEstimateMicros = costMicros(target, estimatedInputTokens, maxOutputTokens);

    // Shadow budgets (issue 14 item 8) are checked, reported and then left out of the reservation.
    const shadow = shadowBudgetPolicy(policy);
    let shadowRefused: string[] | undefined;
    if (shadow !== null) shadowRefused = await shadow.refusals(this.spend, costEstimateMicros);
    const answer = this.spend.reserve(shadow === null ? policy : shadow.enforced, costEstimateMicros);
    const reserved: SpendReserveResult = isPromise(answer)
      ? await settled(answer, 'reserving the budgets')
      : answer;
    if (!reserved.ok) {
      const charges = plan(policy, now, 0);
      const values = await this.read(charges, policy.org.id);
      return {
        ok: false,
        code: 'budget_exceeded',
        param: `${reserved.scope}_budget`,
        retryAfterMs: null,
        headers: headersFor(charges, values, now),
      };
    }
    const reservation = reserved.reservation;

    // At least 1 even under a token limit of 0, which must refuse everything.
    const tokenReservation = Math.max(
      1,
      Math.min(estimatedInputTokens + maxOutputTokens, smallestTokenLimit(policy)),
    );
    const charges = plan(policy, now, tokenReservation);
    let result: ChargeResult;
    try {
      const charged = this.store.chargeAll(charges, policy.org.id);
      result = isPromise(charged) ? await settled(charged, 'charging the windows') : charged;
    } catch (error) {
      await this.releaseSpend(reservation);
      throw error;
    }
    if (!result.ok) {
      await this.releaseSpend(reservation);
      const failing = failingCharge(charges, result.values);
      return {
        ok: false,
        code: 'rate_limit_exceeded',
        param: failing.param,
        retryAfterMs: failing.endMs - now,
        headers: headersFor(charges, result.values, now),
      };
    }

    const ticket = new LimitsTicket(this.nextTicket++, this, {
      charges,
      group: policy.org.id,
      tokenReservation,
      estimatedInputTokens,
      reservation,
      hold: result.hold,
      // Parallel caps (the held charges) come last in a plan.
      holds: charges.length > 0 && charges[charges.length - 1]!.held === true,
      pricing: {
        inputMicrosPerMtok: target.inputMicrosPerMtok,
        outputMicrosPerMtok: target.outputMicrosPerMtok,
      },
    });
    this.openTickets++;
    const windowShadow = shadowRefusals(charges, result.values);
    if (windowShadow !== undefined)
      shadowRefused = shadowRefused === undefined ? windowShadow : [...shadowRefused, ...windowShadow];
    const headers = headersFor(charges, result.values, now);
    return shadowRefused === undefined
      ? { ok: true, ticket, headers }
      : { ok: true, ticket, headers, shadowRefused };
  }

  async settle(ticket: AdmissionTicket, usage: Usage): Promise<{ costMicros: number }> {
    const state = this.take(ticket);
    if (state === undefined) return { costMicros: 0 };
    const done = this.finish(state, tokenCount(usage.inputTokens), tokenCount(usage.outputTokens));
    return isPromise(done) ? await done : done;
  }

  async release(ticket: AdmissionTicket): Promise<void> {
    const state = this.take(ticket);
    if (state === undefined) return;
    // Both in this event-loop turn: stores that batch their settlements send them in one call.
    const released = this.releaseSpend(state.reservation);
    const adjusted = this.adjust(state, REFUND, 0);
    await Promise.all([released, adjusted]);
  }

  async abort(ticket: AdmissionTicket): Promise<{ costMicros: number }> {
    const state = this.take(ticket);
    if (state === undefined) return { costMicros: 0 };
    const done = this.finish(state, state.estimatedInputTokens, 0);
    return isPromise(done) ? await done : done;
  }

  /** Current counters of every configured window of a policy (diagnostics and tests). */
  async windowUsage(policy: ResolvedKeyPolicy): Promise<WindowUsage[]> {
    const now = this.clock.now();
    const charges = plan(effectivePolicy(policy, now), now, 0);
    const values = await this.read(charges, policy.org.id);
    return charges.map((charge, i) => ({
      param: charge.param,
      mode: charge.shadowLimit === undefined ? 'enforce' : 'shadow',
      limit: charge.shadowLimit ?? charge.limit,
      used: values[i]!,
      resetMs: charge.endMs - now,
    }));
  }

  /** Live counters of a policy's windows, parallel caps and budgets (`GET /internal/explain`). */
  async liveCounters(policy: ResolvedKeyPolicy): Promise<LiveCountersView> {
    const windows = (await this.windowUsage(policy)).map((entry) => ({
      param: entry.param,
      mode: entry.mode,
      limit: entry.limit,
      used: entry.used,
      reset_ms: entry.resetMs,
    }));
    const budgets: LiveCountersView['budgets'] = [];
    for (const scope of ['key', 'team', 'org'] as const) {
      const answer = this.spend.spendOf(scope, policy[scope].id);
      const view = isPromise(answer) ? await settled(answer, 'reading the budgets') : answer;
      budgets.push({
        scope,
        spend_micros: view?.spendMicros ?? 0,
        reserved_micros: view?.reservedMicros ?? 0,
      });
    }
    return { windows, budgets };
  }

  /** Admitted requests not settled, released or aborted yet. */
  get inFlight(): number {
    return this.openTickets;
  }

  private take(ticket: AdmissionTicket): TicketState | undefined {
    if (!(ticket instanceof LimitsTicket) || ticket.owner !== this) return undefined;
    const state = ticket.state;
    if (state !== undefined) {
      ticket.state = undefined;
      this.openTickets--;
    }
    return state;
  }

  /**
   * Settle or abort: synchronous with synchronous stores (no promise, no microtask per step),
   * a promise otherwise.
   */
  private finish(
    state: TicketState,
    inputTokens: number,
    outputTokens: number,
  ): MaybePromise<{ costMicros: number }> {
    // Real tokens replace the reservation; the request leaves every parallel cap it was counted in.
    const adjusted = this.adjust(state, RECONCILE, inputTokens + outputTokens - state.tokenReservation);
    if (adjusted === undefined) return this.book(state, inputTokens, outputTokens);
    if (this.spend.settlesAsynchronously === true) {
      // Spend settles in the same turn as the windows (one call when the stores share a batcher).
      const booked = this.book(state, inputTokens, outputTokens);
      return Promise.all([adjusted, booked]).then(([, answer]) => answer);
    }
    return adjusted.then(() => this.book(state, inputTokens, outputTokens));
  }

  private book(
    state: TicketState,
    inputTokens: number,
    outputTokens: number,
  ): MaybePromise<{ costMicros: number }> {
    // Spend is booked last (when the spend store answers synchronously): from here to the
    // caller's continuation that records it for the usage reporter only microtasks run, so no
    // timer can seal a batch in between, and the ledger's unsealed spend and the reporter's open
    // batch hold the same requests. (Meanwhile the reservation keeps guarding the budget while an
    // asynchronous counter store is adjusted.)
    const cost = costMicros(state.pricing, inputTokens, outputTokens);
    const booked = this.spend.settle(state.reservation, cost);
    if (isPromise(booked)) return settled(booked, 'settling the budgets').then(() => ({ costMicros: cost }));
    return { costMicros: cost };
  }

  /**
   * Refund every charge of a ticket (REFUND), or replace its token reservation by `tokenDelta` more
   * (RECONCILE); either way the request leaves its parallel caps (`endHeld`). Undefined when the
   * store answered synchronously.
   */
  private adjust(state: TicketState, mode: AdjustMode, tokenDelta: number): Promise<void> | undefined {
    const now = this.clock.now();
    const { charges } = state;
    const deltas = new Array<number>(charges.length);
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      // A finished window no longer matters; held charges (parallel caps) end through endHeld.
      deltas[i] =
        charge.held === true || now >= charge.endMs
          ? 0
          : mode === REFUND
            ? -charge.amount
            : charge.unit === 'tokens'
              ? tokenDelta
              : 0;
    }
    let pending: Promise<void>[] | undefined;
    if (this.store.adjustAll !== undefined) {
      const answer = this.store.adjustAll(charges, deltas, state.group);
      if (isPromise(answer)) (pending ??= []).push(answer);
    } else {
      for (let i = 0; i < charges.length; i++) {
        if (deltas[i] === 0) continue;
        const charge = charges[i]!;
        const answer = this.store.adjust(charge.key, deltas[i]!, charge.ttlMs, state.group);
        if (isPromise(answer)) (pending ??= []).push(answer);
      }
    }
    if (state.holds) {
      const answer = this.store.endHeld(charges, state.hold, state.group);
      if (isPromise(answer)) (pending ??= []).push(answer);
    }
    return pending === undefined
      ? undefined
      : settled(Promise.all(pending), 'adjusting the windows').then(noop);
  }

  private async releaseSpend(reservation: SpendReservation): Promise<void> {
    const answer = this.spend.release(reservation);
    if (isPromise(answer)) await settled(answer, 'releasing the budgets');
  }

  private async read(charges: readonly PlannedCharge[], group: string): Promise<number[]> {
    const answer = this.store.read(charges, group);
    return isPromise(answer) ? settled(answer, 'reading the windows') : answer;
  }
}
