/** Shared test data for the gateway's tests: policies, targets and a controllable KeySource. */
import type { KeySource } from '../../src/cache/key-source.js';
import { NO_LIMITS } from '../../src/policy/limits.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../../src/policy/resolved-policy.js';

export function policyFor(tokenHash: string, overrides: Partial<ResolvedKeyPolicy> = {}): ResolvedKeyPolicy {
  return {
    keyId: `key_${tokenHash.slice(0, 8)}`,
    tokenHash,
    status: 'active',
    expiresAt: null,
    key: { id: `key_${tokenHash.slice(0, 8)}`, limits: NO_LIMITS, spendMicros: 0 },
    team: { id: 'team_1', limits: NO_LIMITS, spendMicros: 0 },
    org: { id: 'org_1', limits: NO_LIMITS, spendMicros: 0 },
    effectiveTargets: ['gpt-test'],
    version: 1,
    appliedBatchSeq: 0,
    ...overrides,
  };
}

export function targetRoute(
  name: string,
  baseUrl: string,
  overrides: Partial<TargetRoute> = {},
): TargetRoute {
  return {
    name,
    baseUrl,
    upstreamModel: null,
    apiKeyEnv: null,
    inputMicrosPerMtok: 1_000_000,
    outputMicrosPerMtok: 2_000_000,
    ...overrides,
  };
}

interface Gate {
  resolve: () => void;
}

/**
 * An in-memory KeySource: answers from a map, counts loads, can fail, and can hold a load
 * until the test releases it (to order a load and an invalidation deterministically).
 */
export class FakeKeySource implements KeySource {
  readonly policies = new Map<string, ResolvedKeyPolicy>();
  loads = 0;
  failing = false;
  private holding = false;
  private readonly held: Gate[] = [];
  private readonly heldStarted: (() => void)[] = [];

  async load(tokenHash: string): Promise<ResolvedKeyPolicy | null> {
    this.loads++;
    // Read the answer when the load starts, like a database read, then maybe wait.
    const answer = this.policies.get(tokenHash) ?? null;
    const failing = this.failing;
    if (this.holding) {
      await new Promise<void>((resolve) => {
        this.held.push({ resolve });
        this.heldStarted.shift()?.();
      });
    }
    if (failing) throw new Error('admin plane unreachable');
    return answer;
  }

  /** Loads started from now on wait until `release()`. */
  hold(): void {
    this.holding = true;
  }

  /** Resolves when a held load has started (read its answer) and is waiting. */
  loadStarted(): Promise<void> {
    if (this.held.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.heldStarted.push(resolve));
  }

  release(): void {
    this.holding = false;
    for (const gate of this.held.splice(0)) gate.resolve();
  }
}
