/**
 * A circuit breaker for the gateway's calls to the admin plane (issue 13, fault 4): after
 * `failureThreshold` failures in a row it opens, and for `openMs` every call fails at once
 * (`BreakerOpenError`) instead of waiting on a hung admin; then one trial call is let through
 * (half-open): its success closes the breaker, its failure opens it again.
 */
import type { Clock } from '../src/clock.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export class BreakerOpenError extends Error {
  constructor() {
    super('admin plane circuit breaker is open (recent calls failed or timed out)');
    this.name = 'BreakerOpenError';
  }
}

export interface CircuitBreakerOptions {
  clock: Clock;
  /** Consecutive failures that open the breaker (default 3). */
  failureThreshold?: number;
  /** How long it stays open before one trial call (default 2000 ms). */
  openMs?: number;
}

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openUntil = 0;
  private trialInFlight = false;
  private opened = false;
  /** Calls that failed, and calls refused while open (metrics). */
  failures = 0;
  rejected = 0;
  private readonly threshold: number;
  private readonly openMs: number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.threshold = options.failureThreshold ?? 3;
    this.openMs = options.openMs ?? 2000;
  }

  get state(): BreakerState {
    if (!this.opened) return 'closed';
    return this.options.clock.now() < this.openUntil || this.trialInFlight ? 'open' : 'half_open';
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    let trial = false;
    if (this.opened) {
      if (this.options.clock.now() < this.openUntil || this.trialInFlight) {
        this.rejected++;
        throw new BreakerOpenError();
      }
      trial = true;
      this.trialInFlight = true;
    }
    try {
      const result = await call();
      this.consecutiveFailures = 0;
      this.opened = false;
      return result;
    } catch (error) {
      this.failures++;
      this.consecutiveFailures++;
      if (trial || this.consecutiveFailures >= this.threshold) {
        this.opened = true;
        this.openUntil = this.options.clock.now() + this.openMs;
      }
      throw error;
    } finally {
      if (trial) this.trialInFlight = false;
    }
  }
}
