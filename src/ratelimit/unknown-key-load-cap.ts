/**
 * A gateway-wide cap on admin-plane loads that find no key (issue 10 item 9): a flood of
 * distinct well-formed keys with valid checksums misses every cache, and each miss used to cost
 * one `GET /internal/keys/:hash`. Wraps the gateway's KeySource: once `perSecond` loads within the
 * current second answered "unknown", further loads throw until the second ends, which the key
 * cache reports as 503 `auth_unavailable` (retryable; cached keys keep working, stale entries are
 * served). Honest traffic presents known keys, so it never reaches the cap. 0 = no cap.
 */
import type { KeySource } from '../cache/key-source.js';
import type { Clock } from '../clock.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';

export class UnknownKeyLoadCapReached extends Error {
  constructor() {
    super('too many unknown-key loads this second; load skipped');
    this.name = 'UnknownKeyLoadCapReached';
  }
}

export class UnknownKeyLoadCap implements KeySource {
  private windowStart = 0;
  private unknownInWindow = 0;
  /** Loads refused by the cap since start (metrics, tests). */
  refused = 0;

  constructor(
    private readonly source: KeySource,
    private readonly perSecond: number,
    private readonly clock: Clock,
  ) {}

  load(tokenHash: string): Promise<ResolvedKeyPolicy | null> {
    // No cap: the source's own promise, with no wrapper (one promise and a microtask less per load).
    if (this.perSecond <= 0) return this.source.load(tokenHash);
    this.roll();
    if (this.unknownInWindow >= this.perSecond) {
      this.refused++;
      return Promise.reject(new UnknownKeyLoadCapReached());
    }
    return this.source.load(tokenHash).then((policy) => {
      if (policy === null) {
        this.roll();
        this.unknownInWindow++;
      }
      return policy;
    });
  }

  private roll(): void {
    const window = Math.floor(this.clock.now() / 1000) * 1000;
    if (window !== this.windowStart) {
      this.windowStart = window;
      this.unknownInWindow = 0;
    }
  }
}
