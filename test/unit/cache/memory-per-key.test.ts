/**
 * Memory per cached key (issue 7: ≤ 300 MB RSS with 100,000 keys; issue 15: ≤ 200 MB). 20,000
 * policies parsed from JSON as the admin plane sends them (one team and org, rpm + tpm on every
 * key, a name and no tags) go through the real path: PolicyInterner, KeyPolicyCache,
 * LimitsAdmission with the memory counter store and the gateway's PeriodSpendStore (one admitted
 * and settled request each, spend sealed into a usage batch), as a key filled by a cache miss
 * holds them. Heap plus typed arrays (outside the heap) after a full GC, before and after.
 * Measured when written: ~720 bytes per key; ~1,300 without the interner; ~2,450 before the
 * Map-based store, per-window counter keys and the compact ledger. Issue 15 lowered the bound from
 * 1.2 KB to 900 bytes (~740 with the CLOCK key cache and the slot-array counter store), then to
 * 600: ~930 with this set-up before, ~525 with window counters in per-scope cells (no key string
 * per window start), the ledger's first sealed batch in fields, the freshness deadline a stamp of
 * the CLOCK cache and no WeakMap entry per policy without shadow budgets or budget periods.
 */
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { KeyPolicyCache } from '../../../src/cache/key-policy-cache.js';
import { PolicyInterner } from '../../../src/cache/policy-interner.js';
import { ManualClock } from '../../../src/clock.js';
import { NO_LIMITS } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { PeriodSpendStore } from '../../../src/budget/period-spend-store.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { TARGET } from '../ratelimit/fixtures.js';

const KEYS = 20_000;
const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

function wire(i: number): string {
  const keyId = `key_${hex(`k${i}`).slice(0, 24)}`;
  return JSON.stringify({
    keyId,
    keyName: `warm-${i}`,
    tokenHash: hex(`h${i}`),
    status: 'active',
    expiresAt: null,
    key: { id: keyId, limits: { ...NO_LIMITS, rpm: 1_000_000, tpm: 1_000_000_000 }, spendMicros: 0 },
    team: { id: 'team_0123456789abcdef01234567', limits: NO_LIMITS, spendMicros: 5 },
    org: { id: 'org_0123456789abcdef01234567', limits: NO_LIMITS, spendMicros: 7 },
    effectiveTargets: [TARGET.name],
    tags: [],
    version: 5,
    appliedBatchSeq: 0,
  } satisfies ResolvedKeyPolicy);
}

describe('memory per cached key', () => {
  it('a cached key with two windows, its counters and its spend state takes under 600 bytes', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const hashes = Array.from({ length: KEYS }, (_, i) => hex(`h${i}`));
    const bodies = new Map(hashes.map((hash, i) => [hash, wire(i)]));
    const clock = new ManualClock(Date.UTC(2026, 2, 10, 10, 30, 15));
    const interner = new PolicyInterner();
    const spend = new PeriodSpendStore(clock); // as gateway/main.ts wires it
    const admission = new LimitsAdmission({ clock, spend });
    const cache = new KeyPolicyCache({
      source: {
        load: (hash) =>
          Promise.resolve(interner.intern(JSON.parse(bodies.get(hash)!) as ResolvedKeyPolicy, hash)),
      },
      clock,
      maxKeys: KEYS + 1_000,
      ttlMs: 1_800_000,
      negativeTtlMs: 5_000,
      onLoaded: (policy) => spend.observe(policy),
    });
    // Typed arrays (the CLOCK cache's stamps, the counter cells) live outside the heap: counted too.
    const used = (): number => {
      gc();
      gc();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    const before = used();
    for (const hash of hashes) {
      const found = await cache.resolve(hash);
      if (!found.ok) throw new Error(`not loaded: ${found.code}`);
      const outcome = await admission.admit({
        policy: found.policy,
        target: TARGET,
        estimatedInputTokens: 20,
        maxOutputTokens: 30,
      });
      if (!outcome.ok) throw new Error(`refused: ${outcome.code}`);
      await admission.settle(outcome.ticket, { inputTokens: 20, outputTokens: 10 });
    }
    spend.seal(1);
    const perKey = (used() - before) / KEYS;
    expect(cache.size).toBe(KEYS);
    expect(spend.spendOf('key', JSON.parse(bodies.get(hashes[0]!)!).keyId as string)?.spendMicros).toBe(60);
    expect(perKey).toBeLessThan(600);
  });
});
