/**
 * Admission in Redis mode with a defined behaviour when Redis fails (issue 12):
 * - window limits fail open to this process's own limiters (a LimitsAdmission over memory
 *   stores): each replica then enforces every limit on its own, so N replicas admit up to N times
 *   a limit during an outage;
 * - budgets fail closed: a request whose key, team or org has a budget is refused with 503
 *   `budget_unavailable` (KEYGATE_BUDGET_FAIL_OPEN=true admits it against this process's own
 *   spend view instead);
 * - recovery is automatic: once Redis answers again (RedisHealth), decisions go back to it and the
 *   shared counters resume from what Redis holds; requests admitted during the outage are not
 *   added to them (their spend reaches SQLite through usage reports, and the Redis spend counter
 *   is raised to the persisted spend on the next reservation).
 *
 * Every ticket is ended by the admission that issued it. A Redis failure while ending a ticket
 * (Redis died mid-request) still returns the request's cost, so its usage is reported: the shared
 * counters then keep the reservation until they expire (conservative, never an overshoot).
 */
import { costMicros } from '../budget/cost.js';
import {
  type Admission,
  type AdmissionOutcome,
  type AdmissionRequest,
  type AdmissionTicket,
  NO_RATE_LIMIT_HEADERS,
  type Usage,
} from '../policy/admission.js';
import { SCOPES, SHADOW_BITS } from '../policy/limits.js';
import { CounterStoreError } from './counter-store.js';
import type { RedisHealth } from './redis-health.js';

export interface RedisFallbackAdmissionOptions {
  /** Decisions on the shared Redis counters and spend. */
  shared: Admission;
  /** This process's own limiters, used while Redis is down. */
  local: Admission;
  health: RedisHealth;
  /** KEYGATE_BUDGET_FAIL_OPEN. */
  budgetFailOpen: boolean;
}

export class RedisFallbackAdmission implements Admission {
  /** Tickets of the shared admission → their request (for the cost when Redis fails mid-request). */
  private readonly sharedTickets = new WeakMap<AdmissionTicket, AdmissionRequest>();

  constructor(private readonly options: RedisFallbackAdmissionOptions) {}

  async admit(request: AdmissionRequest): Promise<AdmissionOutcome> {
    const { shared, local, health, budgetFailOpen } = this.options;
    if (health.usable()) {
      try {
        const outcome = await shared.admit(request);
        health.succeeded();
        if (outcome.ok) this.sharedTickets.set(outcome.ticket, request);
        return outcome;
      } catch (error) {
        if (!(error instanceof CounterStoreError)) throw error;
        health.failed(error);
      }
    }
    health.fallbackAdmissions++;
    if (!budgetFailOpen) {
      // A budget in shadow mode never refuses, not even for want of Redis (issue 14 item 8).
      const budgeted = SCOPES.find((scope) => {
        const limits = request.policy[scope].limits;
        return limits.maxBudgetMicros !== null && ((limits.shadow ?? 0) & SHADOW_BITS.budget) === 0;
      });
      if (budgeted !== undefined) {
        return {
          ok: false,
          code: 'budget_unavailable',
          param: `${budgeted}_budget`,
          retryAfterMs: null,
          headers: NO_RATE_LIMIT_HEADERS,
        };
      }
    }
    return local.admit(request);
  }

  async settle(ticket: AdmissionTicket, usage: Usage): Promise<{ costMicros: number }> {
    const request = this.sharedTickets.get(ticket);
    if (request === undefined) return this.options.local.settle(ticket, usage);
    this.sharedTickets.delete(ticket);
    return this.ending(
      this.options.shared.settle(ticket, usage),
      request,
      usage.inputTokens,
      usage.outputTokens,
    );
  }

  async release(ticket: AdmissionTicket): Promise<void> {
    const request = this.sharedTickets.get(ticket);
    if (request === undefined) return this.options.local.release(ticket);
    this.sharedTickets.delete(ticket);
    await this.ending(
      this.options.shared.release(ticket).then(() => ({ costMicros: 0 })),
      request,
      0,
      0,
    );
  }

  async abort(ticket: AdmissionTicket): Promise<{ costMicros: number }> {
    const request = this.sharedTickets.get(ticket);
    if (request === undefined) return this.options.local.abort(ticket);
    this.sharedTickets.delete(ticket);
    return this.ending(
      this.options.shared.abort(ticket),
      request,
      Math.max(1, request.estimatedInputTokens),
      0,
    );
  }

  /** The shared admission's answer, or the cost of the usage when Redis failed meanwhile. */
  private async ending(
    answer: Promise<{ costMicros: number }>,
    request: AdmissionRequest,
    inputTokens: number,
    outputTokens: number,
  ): Promise<{ costMicros: number }> {
    try {
      const result = await answer;
      this.options.health.succeeded();
      return result;
    } catch (error) {
      if (!(error instanceof CounterStoreError)) throw error;
      this.options.health.failed(error);
      return { costMicros: costMicros(request.target, whole(inputTokens), whole(outputTokens)) };
    }
  }
}

function whole(tokens: number): number {
  return Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : 0;
}
