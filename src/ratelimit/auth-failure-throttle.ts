/**
 * Failed-authentication throttling (issue 10 item 9), on rate-limiter-flexible: every failed
 * authentication of a client address consumes one point; once an address has used up `points`
 * within `durationSec` it is blocked for `blockDurationSec`, and every request from it answers
 * 429 `too_many_auth_failures` (with `retry-after`) BEFORE any hashing, database read or admin
 * load. A refused consume still counts (rate-limiter-flexible's behaviour), so hammering while
 * blocked never shortens the block.
 *
 * The limiter is made by a factory so Redis mode can pass a `RateLimiterRedis` with an in-memory
 * `insuranceLimiter` (shared across gateways); the default is a `RateLimiterMemory` per process.
 */
import {
  RateLimiterMemory,
  RateLimiterRes,
  type RateLimiterAbstract,
  type RateLimiterCompatibleAbstract,
} from 'rate-limiter-flexible';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/config.js';

const MAX_LOCAL_BLOCKS = 100_000;

export interface AuthFailureLimits {
  /** Failures allowed per window; 0 switches throttling off. */
  points: number;
  durationSec: number;
  blockDurationSec: number;
}

/** The options rate-limiter-flexible's limiters share (prefix keeps planes apart in one store). */
export interface LimiterOptions {
  keyPrefix: string;
  points: number;
  duration: number;
  blockDuration: number;
}

export type LimiterFactory = (options: LimiterOptions) => RateLimiterAbstract | RateLimiterCompatibleAbstract;

export const memoryLimiter: LimiterFactory = (options) => new RateLimiterMemory(options);

export class AuthFailureThrottle {
  private readonly limiter: RateLimiterAbstract | RateLimiterCompatibleAbstract | undefined;
  private readonly points: number;
  private readonly clock: Clock;
  /** address → blocked until (ms), as this process has seen it; bounded, oldest dropped first. */
  private readonly localBlocks = new Map<string, number>();

  constructor(
    limits: AuthFailureLimits,
    options: { keyPrefix: string; createLimiter?: LimiterFactory; clock?: Clock },
  ) {
    this.points = limits.points;
    this.clock = options.clock ?? systemClock;
    this.limiter =
      limits.points <= 0
        ? undefined
        : (options.createLimiter ?? memoryLimiter)({
            keyPrefix: options.keyPrefix,
            points: limits.points,
            duration: limits.durationSec,
            blockDuration: limits.blockDurationSec,
          });
  }

  /**
   * Synchronous check for the gateway's hot path: the blocks this process has seen (a refused
   * consume, or a blocked `get`). With a shared store, a block another process caused is learned
   * at this process's next failure from that address.
   */
  blockedLocallyMs(address: string): number {
    if (this.localBlocks.size === 0) return 0;
    const until = this.localBlocks.get(address);
    if (until === undefined) return 0;
    const left = until - this.clock.now();
    if (left > 0) return left;
    this.localBlocks.delete(address);
    return 0;
  }

  get enabled(): boolean {
    return this.limiter !== undefined;
  }

  /** Milliseconds `address` stays blocked for, or 0 when it may try to authenticate. */
  async blockedMs(address: string): Promise<number> {
    if (this.limiter === undefined) return 0;
    const state = await this.limiter.get(address);
    if (state === null || state.consumedPoints <= this.points) return 0;
    return this.noteBlock(address, state.msBeforeNext);
  }

  /** Counts one failed authentication; returns the block in ms it caused (0 while under the limit). */
  async recordFailure(address: string): Promise<number> {
    if (this.limiter === undefined) return 0;
    try {
      await this.limiter.consume(address, 1);
      return 0;
    } catch (refused) {
      if (refused instanceof RateLimiterRes) return this.noteBlock(address, refused.msBeforeNext);
      throw refused;
    }
  }

  private noteBlock(address: string, ms: number): number {
    const blockedMs = Math.max(1, ms);
    this.localBlocks.set(address, this.clock.now() + blockedMs);
    if (this.localBlocks.size > MAX_LOCAL_BLOCKS) {
      const oldest = this.localBlocks.keys().next().value;
      if (oldest !== undefined) this.localBlocks.delete(oldest);
    }
    return blockedMs;
  }
}

/** `retry-after` (whole seconds, at least 1) for a block of `ms`. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/** The throttle's limits from the configuration (KEYGATE_AUTH_FAILURE_*). */
export function authFailureLimits(
  config: Pick<Config, 'authFailurePoints' | 'authFailureWindowSec' | 'authFailureBlockSec'>,
): AuthFailureLimits {
  return {
    points: config.authFailurePoints,
    durationSec: config.authFailureWindowSec,
    blockDurationSec: config.authFailureBlockSec,
  };
}
