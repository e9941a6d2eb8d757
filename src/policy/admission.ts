/**
 * The seam between the gateway's request handler and limit enforcement (issue 4).
 * The gateway asks `admit` before calling the upstream, then exactly one of `settle`
 * (upstream answered; real usage known), `release` (upstream failed: refund everything) or
 * `abort` (client went away: charge the input estimate). Refusals are outcomes, not throws.
 */
import type { ResolvedKeyPolicy, TargetRoute } from './resolved-policy.js';

export interface AdmissionRequest {
  policy: ResolvedKeyPolicy;
  target: TargetRoute;
  /** Estimated prompt tokens (characters / 4 of the prompt text). */
  estimatedInputTokens: number;
  /** `max_tokens` / `max_completion_tokens` / `max_output_tokens` of the body, or the configured default. */
  maxOutputTokens: number;
}

/** `x-ratelimit-*` figures for the tightest scope; null fields are left out of the headers. */
export interface RateLimitHeaders {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
}

/** Headers of an admission that enforces no window (every figure left out). */
export const NO_RATE_LIMIT_HEADERS: RateLimitHeaders = Object.freeze({
  limitRequests: null,
  remainingRequests: null,
  resetRequestsMs: null,
  limitTokens: null,
  remainingTokens: null,
  resetTokensMs: null,
});

export interface AdmissionTicket {
  readonly id: number;
}

export type AdmissionOutcome =
  | {
      ok: true;
      ticket: AdmissionTicket;
      headers: RateLimitHeaders;
      /** Shadow limits this request went over (`key_rpm`, ...); absent when none. Never refuses. */
      shadowRefused?: string[];
    }
  | {
      ok: false;
      code: 'rate_limit_exceeded' | 'budget_exceeded' | 'budget_unavailable';
      /** `key_rpm`, `team_tpd`, `org_budget`, `key_parallel`, ... */
      param: string;
      /** Milliseconds until the failing window resets (null for budgets). */
      retryAfterMs: number | null;
      headers: RateLimitHeaders;
    };

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface Admission {
  admit(request: AdmissionRequest): Promise<AdmissionOutcome>;
  /** Replace the estimates with real usage; returns the request's cost in micro-USD. */
  settle(ticket: AdmissionTicket, usage: Usage): Promise<{ costMicros: number }>;
  release(ticket: AdmissionTicket): Promise<void>;
  /** Client disconnected: charge the input estimate; returns the cost charged. */
  abort(ticket: AdmissionTicket): Promise<{ costMicros: number }>;
}
