import { describe, expect, it } from 'vitest';
import { PolicyInterner } from '../../../src/cache/policy-interner.js';
import type { Limits } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';

const NONE: Limits = { maxBudgetMicros: null, rpm: null, tpm: null, rph: null, rpd: null, tpd: null };

/** A policy as the admin plane sends it, parsed from JSON like the gateway's key source does. */
function parsed(
  i: number,
  parts: { teamSpend?: number; teamRpm?: number | null; targets?: string[]; keyRpm?: number } = {},
): ResolvedKeyPolicy {
  const policy: ResolvedKeyPolicy = {
    keyId: `key_${i}`,
    tokenHash: String(i).padStart(64, '0'),
    status: 'active',
    expiresAt: null,
    key: { id: `key_${i}`, limits: { ...NONE, rpm: parts.keyRpm ?? 100, tpm: 1000 }, spendMicros: i },
    team: {
      id: 'team_1',
      limits: { ...NONE, rpm: parts.teamRpm ?? null },
      spendMicros: parts.teamSpend ?? 5,
    },
    org: { id: 'org_1', limits: NONE, spendMicros: 7 },
    effectiveTargets: parts.targets ?? ['model-a', 'model-b'],
    version: 3,
    appliedBatchSeq: 1,
  };
  return JSON.parse(JSON.stringify(policy)) as ResolvedKeyPolicy;
}

describe('PolicyInterner', () => {
  it('keys of one team share one team, one org, one target list and equal limits, values unchanged', () => {
    const interner = new PolicyInterner();
    const a = interner.intern(parsed(1));
    const b = interner.intern(parsed(2));
    expect(a.team).toBe(b.team);
    expect(a.org).toBe(b.org);
    expect(a.effectiveTargets).toBe(b.effectiveTargets);
    expect(a.key.limits).toBe(b.key.limits);
    expect(a.key).not.toBe(b.key);
    // Interning changes no value.
    expect(a).toEqual(parsed(1));
    expect(b).toEqual(parsed(2));
  });

  it('a team whose spend or limits changed between loads is not shared: each policy keeps its own values', () => {
    const interner = new PolicyInterner();
    const before = interner.intern(parsed(1, { teamSpend: 5 }));
    const spent = interner.intern(parsed(2, { teamSpend: 9 }));
    const limited = interner.intern(parsed(3, { teamSpend: 9, teamRpm: 10 }));
    expect(before.team.spendMicros).toBe(5);
    expect(spent.team.spendMicros).toBe(9);
    expect(spent.team.limits.rpm).toBeNull();
    expect(limited.team.limits.rpm).toBe(10);
    expect(new Set([before.team, spent.team, limited.team]).size).toBe(3);
    // The latest content is shared from then on.
    expect(interner.intern(parsed(4, { teamSpend: 9, teamRpm: 10 })).team).toBe(limited.team);
  });

  it('different target lists and key limits stay distinct', () => {
    const interner = new PolicyInterner();
    const a = interner.intern(parsed(1, { targets: ['model-a'], keyRpm: 1 }));
    const b = interner.intern(parsed(2, { targets: ['model-b'], keyRpm: 2 }));
    expect(a.effectiveTargets).toEqual(['model-a']);
    expect(b.effectiveTargets).toEqual(['model-b']);
    expect(a.key.limits.rpm).toBe(1);
    expect(b.key.limits.rpm).toBe(2);
  });

  it('shared parts are frozen, so no caller can change another policy through them', () => {
    const interner = new PolicyInterner();
    const a = interner.intern(parsed(1));
    expect(Object.isFrozen(a.team)).toBe(true);
    expect(Object.isFrozen(a.team.limits)).toBe(true);
    expect(Object.isFrozen(a.key.limits)).toBe(true);
    expect(Object.isFrozen(a.effectiveTargets)).toBe(true);
    expect(() => {
      (a.team as { spendMicros: number }).spendMicros = 1;
    }).toThrow(TypeError);
  });

  it('full tables are cleared without changing any value', () => {
    const interner = new PolicyInterner({ maxEntries: 2 });
    const policies = Array.from({ length: 6 }, (_, i) =>
      interner.intern(parsed(i, { teamSpend: i, targets: [`m${i}`], keyRpm: i + 1 })),
    );
    policies.forEach((policy, i) =>
      expect(policy).toEqual(parsed(i, { teamSpend: i, targets: [`m${i}`], keyRpm: i + 1 })),
    );
  });
});
