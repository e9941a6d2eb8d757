/**
 * Failed console sign-ins are throttled per account (the email, or "master key") and per client
 * address with rate-limiter-flexible (in-process memory stores): after 5 failures of an account,
 * or 20 from one address, within 15 minutes, further attempts are refused without checking the
 * password until the window has passed. A successful sign-in clears the account's failures.
 * Note: the memory store reads the system time, not the injected Clock; it is per admin process.
 */
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';

export const ACCOUNT_FAILURES = 5;
export const ADDRESS_FAILURES = 20;
const WINDOW_SECONDS = 15 * 60;

export class SignInThrottle {
  private readonly perAccount = new RateLimiterMemory({
    keyPrefix: 'acct',
    points: ACCOUNT_FAILURES,
    duration: WINDOW_SECONDS,
  });
  private readonly perAddress = new RateLimiterMemory({
    keyPrefix: 'addr',
    points: ADDRESS_FAILURES,
    duration: WINDOW_SECONDS,
  });

  /** Milliseconds until the next attempt is allowed, or 0 when it is allowed now. */
  async retryAfterMs(account: string, address: string): Promise<number> {
    const [acct, addr] = await Promise.all([
      this.perAccount.get(account.toLowerCase()),
      this.perAddress.get(address),
    ]);
    return Math.max(blockedFor(acct, ACCOUNT_FAILURES), blockedFor(addr, ADDRESS_FAILURES));
  }

  async recordFailure(account: string, address: string): Promise<void> {
    await Promise.all([
      this.perAccount.penalty(account.toLowerCase(), 1),
      this.perAddress.penalty(address, 1),
    ]);
  }

  async recordSuccess(account: string): Promise<void> {
    await this.perAccount.delete(account.toLowerCase());
  }
}

function blockedFor(res: RateLimiterRes | null, max: number): number {
  return res !== null && res.consumedPoints >= max ? Math.max(1, res.msBeforeNext) : 0;
}
